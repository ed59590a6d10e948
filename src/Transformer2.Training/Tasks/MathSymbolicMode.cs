namespace Transformer2.Training.Tasks;

/// <summary>How <see cref="MathEquivalence"/> stands in for the authors' sympy step.</summary>
public enum MathSymbolicMode
{
    /// <summary>
    /// As the authors' environment most likely ran it: only Python-syntax arithmetic (<c>parse_expr</c>) is compared, because
    /// sympy's LaTeX parser was unavailable there. Reproduces their MATH numbers.
    /// </summary>
    AuthorsEnvironment,

    /// <summary>Also evaluates LaTeX arithmetic, so <c>\frac{3}{4}</c> equals <c>0.75</c> and <c>2\sqrt{2}</c> equals <c>\sqrt{8}</c>.</summary>
    LatexNumeric,
}
