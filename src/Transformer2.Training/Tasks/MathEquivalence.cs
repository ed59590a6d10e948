namespace Transformer2.Training.Tasks;

/// <summary>
/// The authors' MATH answer equivalence (<c>is_equiv</c> → <c>math_equal</c>, t2-reference §5.2), ported step by step, with the
/// sympy step replaced by a documented numeric subset (<see cref="SymbolicEqual"/>).
/// </summary>
/// <remarks>
/// The sympy step tries <c>parse_latex</c>, then <c>parse_expr</c>. <c>parse_latex</c> most likely failed in the authors'
/// environment (sympy's LaTeX parser needs the ANTLR 4.11 runtime; hydra-core pins 4.9, and fishfarm does not list antlr), so
/// only Python-syntax answers (<c>x**2+1</c>, <c>2*pi</c>) reached sympy and, after normalisation turned <c>0.75</c>-style
/// answers into <c>\frac</c>, <c>\frac{3}{4}</c> vs <c>0.75</c> is *not* equal there. <see cref="MathSymbolicMode.AuthorsEnvironment"/>
/// (the default) reproduces that; <see cref="MathSymbolicMode.LatexNumeric"/> also evaluates LaTeX arithmetic (fractions vs
/// decimals, <c>\sqrt</c>, <c>\pi</c>, implicit products, units in <c>\text{}</c>). Not covered in either mode: algebra beyond
/// evaluating both sides at sample points (identities are checked numerically at three points with relative tolerance 1e-9,
/// constants with sympy's 1e-3), functions (trig, log, factorial, binomials), complex numbers, sets, matrices, equations and
/// inequalities.
/// </remarks>
public static class MathEquivalence
{
    private static readonly double[][] SamplePoints =
    [
        [0.3711, 1.2345, 2.718, 0.577, 1.618, 3.1416],
        [1.4142, 0.6931, 1.7320, 2.2360, 0.8415, 1.1],
        [2.5, 0.25, 1.75, 3.3, 0.9, 4.2],
    ];

    /// <summary>
    /// <c>is_equiv(gold, prediction)</c>: both missing → equal; one missing → not. Otherwise both are normalised and compared
    /// with <see cref="MathEqual"/> (called, as in the authors' code, with the gold in the "prediction" slot) or plain equality;
    /// when normalisation fails the raw strings are compared the same way.
    /// </summary>
    public static bool IsEquivalent(string? gold, string? prediction, MathSymbolicMode mode = MathSymbolicMode.AuthorsEnvironment)
    {
        if (gold is null && prediction is null)
        {
            return true;
        }

        if (gold is null || prediction is null)
        {
            return false;
        }

        if (MathNormalizer.TryNormalize(gold, out var ss1) && MathNormalizer.TryNormalize(prediction, out var ss2))
        {
            return MathEqual(ss1, ss2, mode) || ss1 == ss2;
        }

        return MathEqual(gold, prediction, mode) || gold == prediction;
    }

    /// <summary>
    /// <c>math_equal(prediction, reference)</c> with percentages and closeness on: numbers (commas removed) within rel. 1e-4 of
    /// reference/100, reference or reference·100; then equality after removing <c>{}()</c> (and outer brackets); then
    /// element-wise for tuples/intervals; then <see cref="SymbolicEqual"/>.
    /// </summary>
    public static bool MathEqual(string prediction, string reference, MathSymbolicMode mode = MathSymbolicMode.AuthorsEnvironment)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(reference);
        if (PythonFloat.TryParse(prediction.Replace(",", string.Empty, StringComparison.Ordinal), out var p)
            && PythonFloat.TryParse(reference.Replace(",", string.Empty, StringComparison.Ordinal), out var r))
        {
            foreach (var item in new[] { r / 100, r, r * 100 })
            {
                if (PythonFloat.IsClose(item, p, 1e-4))
                {
                    return true;
                }
            }

            return false;
        }

        if (prediction.Length == 0)
        {
            return false;
        }

        reference = PyStr.Strip(reference);
        prediction = PyStr.Strip(prediction);
        string predStr = prediction, refStr = reference;
        if ((prediction.StartsWith('[') && prediction.EndsWith(']') && !reference.StartsWith('('))
            || (prediction.StartsWith('(') && prediction.EndsWith(')') && !reference.StartsWith('[')))
        {
            predStr = PyStr.Strip(predStr, "[]()");
            refStr = PyStr.Strip(refStr, "[]()");
        }

        foreach (var s in new[] { "{", "}", "(", ")" })
        {
            refStr = refStr.Replace(s, string.Empty, StringComparison.Ordinal);
            predStr = predStr.Replace(s, string.Empty, StringComparison.Ordinal);
        }

        if (predStr == refStr)
        {
            return true;
        }

        if ((IsWrapped(prediction, '[', ']') && IsWrapped(reference, '[', ']'))
            || (IsWrapped(prediction, '(', ')') && IsWrapped(reference, '(', ')')))
        {
            var predParts = Inner(prediction).Split(',');
            var refParts = Inner(reference).Split(',');
            if (predParts.Length == refParts.Length && predParts.Zip(refParts).All(pair => MathEqual(pair.First, pair.Second, mode)))
            {
                return true;
            }
        }

        return SymbolicEqual(prediction, reference, mode);
    }

    /// <summary>
    /// The stand-in for the authors' sympy step: both sides parse with the subset of <paramref name="mode"/> (see the
    /// <see cref="MathEquivalence"/> remarks); constants must agree within relative 1e-3 (sympy's <c>N()</c> check), expressions
    /// with variables within 1e-9 at three sample points (standing in for <c>simplify(a − b) == 0</c>).
    /// </summary>
    public static bool SymbolicEqual(string a, string b, MathSymbolicMode mode = MathSymbolicMode.AuthorsEnvironment)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var latex = mode == MathSymbolicMode.LatexNumeric;
        var ea = MathExpression.TryParse(a, latex);
        var eb = MathExpression.TryParse(b, latex);
        if (ea is null || eb is null)
        {
            return false;
        }

        var names = ea.Variables.Union(eb.Variables).OrderBy(n => n, StringComparer.Ordinal).ToList();
        var rounds = names.Count == 0 ? 1 : SamplePoints.Length;
        for (var round = 0; round < rounds; round++)
        {
            var point = SamplePoints[round];
            double ValueOf(string name) => point[names.IndexOf(name) % point.Length] + (names.IndexOf(name) / point.Length);
            var va = ea.Evaluate(ValueOf);
            var vb = eb.Evaluate(ValueOf);
            if (double.IsNaN(va) || double.IsNaN(vb))
            {
                return false;
            }

            if (!PythonFloat.IsClose(va, vb, names.Count == 0 ? 1e-3 : 1e-9) && !(Math.Abs(va - vb) < 1e-12))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsWrapped(string s, char open, char close) => s.Length >= 1 && s[0] == open && s[^1] == close;

    private static string Inner(string s) => s.Length >= 2 ? s[1..^1] : string.Empty;
}
