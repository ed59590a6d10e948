using System.Globalization;

namespace Transformer2.Training.Tasks;

/// <summary>
/// A small numeric reader standing in for the authors' sympy step. Python mode accepts what sympy's <c>parse_expr</c> reads of
/// plain arithmetic: numbers, + − * / **, parentheses, <c>sqrt(x)</c>, <c>pi</c>, <c>E</c> and names as variables (no <c>^</c>,
/// no implicit multiplication, no LaTeX). LaTeX mode adds <c>^</c>, <c>\cdot \times \div</c>, braces, <c>\frac \dfrac \tfrac</c>
/// (also <c>\frac12</c>), <c>\sqrt{x}</c>, <c>\sqrt[n]{x}</c>, <c>\pi</c>, implicit multiplication (<c>2\pi</c>, <c>3x</c>), and
/// drops spacing commands, <c>\left \right</c> and <c>\text{…}</c>/<c>\mbox{…}</c>/<c>\mathrm{…}</c> groups (units). Anything
/// else (functions like \sin, factorials, sets, matrices, inequalities, complex numbers) does not parse.
/// </summary>
internal sealed class MathExpression
{
    private readonly Func<Func<string, double>, double> _evaluate;

    private MathExpression(Func<Func<string, double>, double> evaluate, IReadOnlySet<string> variables)
    {
        _evaluate = evaluate;
        Variables = variables;
    }

    /// <summary>The variable names the expression uses.</summary>
    public IReadOnlySet<string> Variables { get; }

    /// <summary>Evaluates with each variable given by <paramref name="valueOf"/>.</summary>
    public double Evaluate(Func<string, double> valueOf) => _evaluate(valueOf);

    /// <summary>Parses <paramref name="text"/>; <see langword="null"/> when it is outside the supported subset.</summary>
    public static MathExpression? TryParse(string text, bool latex)
    {
        try
        {
            var parser = new Parser(text, latex);
            var node = parser.ParseAll();
            return new MathExpression(node, parser.Variables);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private sealed class Parser(string text, bool latex)
    {
        private static readonly string[] IgnoredCommands = ["\\left", "\\right", "\\,", "\\;", "\\:", "\\!", "\\ ", "\\displaystyle"];
        private static readonly string[] UnitCommands = ["\\text", "\\mbox", "\\mathrm", "\\textbf", "\\textrm"];
        private int _pos;

        public HashSet<string> Variables { get; } = new(StringComparer.Ordinal);

        public Func<Func<string, double>, double> ParseAll()
        {
            var e = ParseSum();
            SkipIgnorable();
            if (_pos != text.Length)
            {
                throw new FormatException($"unexpected '{text[_pos]}'");
            }

            return e;
        }

        private Func<Func<string, double>, double> ParseSum()
        {
            var left = ParseProduct();
            while (true)
            {
                SkipIgnorable();
                if (Eat("+"))
                {
                    var l = left;
                    var r = ParseProduct();
                    left = v => l(v) + r(v);
                }
                else if (Eat("-"))
                {
                    var l = left;
                    var r = ParseProduct();
                    left = v => l(v) - r(v);
                }
                else
                {
                    return left;
                }
            }
        }

        private Func<Func<string, double>, double> ParseProduct()
        {
            var left = ParseUnary();
            while (true)
            {
                SkipIgnorable();
                if (Eat("*") || (latex && (Eat("\\cdot") || Eat("\\times"))))
                {
                    var l = left;
                    var r = ParseUnary();
                    left = v => l(v) * r(v);
                }
                else if (Eat("/") || (latex && Eat("\\div")))
                {
                    var l = left;
                    var r = ParseUnary();
                    left = v => l(v) / r(v);
                }
                else if (latex && StartsAtom())
                {
                    var l = left;
                    var r = ParsePower();
                    left = v => l(v) * r(v);
                }
                else
                {
                    return left;
                }
            }
        }

        private Func<Func<string, double>, double> ParseUnary()
        {
            SkipIgnorable();
            if (Eat("-"))
            {
                var inner = ParseUnary();
                return v => -inner(v);
            }

            if (Eat("+"))
            {
                return ParseUnary();
            }

            return ParsePower();
        }

        private Func<Func<string, double>, double> ParsePower()
        {
            var b = ParseAtom();
            SkipIgnorable();
            if ((latex && Eat("^")) || Eat("**"))
            {
                SkipIgnorable();
                var e = Peek() == '{' ? ParseAtom() : ParseUnaryAtom();
                return v => Math.Pow(b(v), e(v));
            }

            return b;
        }

        private Func<Func<string, double>, double> ParseUnaryAtom()
        {
            SkipIgnorable();
            if (Eat("-"))
            {
                var inner = ParseUnaryAtom();
                return v => -inner(v);
            }

            return ParseAtom();
        }

        private bool StartsAtom()
        {
            SkipIgnorable();
            if (_pos >= text.Length)
            {
                return false;
            }

            var c = text[_pos];
            if (char.IsAsciiDigit(c) || c == '.' || c == '(' || c == '{' || char.IsAsciiLetter(c))
            {
                return true;
            }

            return c == '\\' && (Ahead("\\frac") || Ahead("\\dfrac") || Ahead("\\tfrac") || Ahead("\\sqrt") || Ahead("\\pi"));
        }

        private Func<Func<string, double>, double> ParseAtom()
        {
            SkipIgnorable();
            if (_pos >= text.Length)
            {
                throw new FormatException("unexpected end");
            }

            var c = text[_pos];
            if (char.IsAsciiDigit(c) || c == '.')
            {
                return Number();
            }

            if (Eat("("))
            {
                var inner = ParseSum();
                Expect(")");
                return inner;
            }

            if (latex && Eat("{"))
            {
                var inner = ParseSum();
                Expect("}");
                return inner;
            }

            if (!latex)
            {
                if (c == '\\' || c == '{')
                {
                    throw new FormatException("LaTeX outside LaTeX mode");
                }
            }
            else if (Eat("\\frac") || Eat("\\dfrac") || Eat("\\tfrac"))
            {
                var num = Argument();
                var den = Argument();
                return v => num(v) / den(v);
            }

            if (latex && Eat("\\sqrt"))
            {
                SkipIgnorable();
                Func<Func<string, double>, double>? index = null;
                if (Eat("["))
                {
                    index = ParseSum();
                    Expect("]");
                }

                var radicand = Argument();
                return index is null ? v => Math.Sqrt(radicand(v)) : v => Math.Pow(radicand(v), 1.0 / index(v));
            }

            if (latex && Eat("\\pi"))
            {
                return _ => Math.PI;
            }

            if (char.IsAsciiLetter(c))
            {
                var start = _pos;
                while (_pos < text.Length && (char.IsAsciiLetterOrDigit(text[_pos]) || text[_pos] == '_'))
                {
                    _pos++;
                }

                var name = text[start.._pos];
                if (name == "pi")
                {
                    return _ => Math.PI;
                }

                if (name == "E" && !latex)
                {
                    return _ => Math.E;
                }

                if (name == "I" && !latex)
                {
                    throw new FormatException("complex numbers are not supported");
                }

                if (name == "sqrt")
                {
                    Expect("(");
                    var inner = ParseSum();
                    Expect(")");
                    return v => Math.Sqrt(inner(v));
                }

                Variables.Add(name);
                return v => v(name);
            }

            throw new FormatException($"unsupported '{c}'");
        }

        // A \frac or \sqrt argument: a braced group, or (as in \frac12) a single digit or letter.
        private Func<Func<string, double>, double> Argument()
        {
            SkipIgnorable();
            if (Peek() == '{')
            {
                return ParseAtom();
            }

            if (_pos < text.Length && char.IsAsciiDigit(text[_pos]))
            {
                var d = text[_pos++] - '0';
                return _ => d;
            }

            if (_pos < text.Length && char.IsAsciiLetter(text[_pos]))
            {
                var name = text[_pos++].ToString();
                Variables.Add(name);
                return v => v(name);
            }

            throw new FormatException("missing argument");
        }

        private Func<Func<string, double>, double> Number()
        {
            var start = _pos;
            while (_pos < text.Length && (char.IsAsciiDigit(text[_pos]) || text[_pos] == '.'))
            {
                _pos++;
            }

            if (!double.TryParse(text.AsSpan(start, _pos - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
            {
                throw new FormatException("bad number");
            }

            return _ => value;
        }

        private void SkipIgnorable()
        {
            while (_pos < text.Length)
            {
                if (char.IsWhiteSpace(text[_pos]))
                {
                    _pos++;
                    continue;
                }

                if (!latex)
                {
                    return;
                }

                var skipped = false;
                foreach (var cmd in IgnoredCommands)
                {
                    if (Ahead(cmd) && !(char.IsAsciiLetter(cmd[^1]) && NextIsLetter(cmd.Length)))
                    {
                        _pos += cmd.Length;
                        skipped = true;
                        break;
                    }
                }

                if (!skipped)
                {
                    foreach (var cmd in UnitCommands)
                    {
                        if (Ahead(cmd + "{"))
                        {
                            SkipGroup(cmd.Length);
                            skipped = true;
                            break;
                        }
                    }
                }

                if (!skipped)
                {
                    return;
                }
            }
        }

        private bool NextIsLetter(int offset) => _pos + offset < text.Length && char.IsAsciiLetter(text[_pos + offset]);

        private void SkipGroup(int commandLength)
        {
            _pos += commandLength;
            var depth = 0;
            while (_pos < text.Length)
            {
                var ch = text[_pos++];
                if (ch == '{')
                {
                    depth++;
                }
                else if (ch == '}' && --depth == 0)
                {
                    return;
                }
            }

            throw new FormatException("unclosed group");
        }

        private char Peek()
        {
            SkipIgnorable();
            return _pos < text.Length ? text[_pos] : '\0';
        }

        private bool Ahead(string token) => string.CompareOrdinal(text, _pos, token, 0, token.Length) == 0;

        private bool Eat(string token)
        {
            if (!Ahead(token))
            {
                return false;
            }

            // A command must not be the prefix of a longer command (\pi vs \pitchfork).
            if (token.Length > 1 && token[0] == '\\' && char.IsAsciiLetter(token[^1]) && NextIsLetter(token.Length))
            {
                return false;
            }

            _pos += token.Length;
            return true;
        }

        private void Expect(string token)
        {
            SkipIgnorable();
            if (!Eat(token))
            {
                throw new FormatException($"expected '{token}'");
            }
        }
    }
}
