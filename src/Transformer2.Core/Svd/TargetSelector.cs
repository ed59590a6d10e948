using System.Text.RegularExpressions;

namespace Transformer2.Core.Svd;

/// <summary>Chooses which weight matrices SVF adapts, by full parameter name.</summary>
/// <remarks>
/// The presets match decoder layers of LLaMA/Mistral-style checkpoints, with or without a prefix (so
/// <c>model.layers.3.mlp.up_proj.weight</c> and LLaVA's <c>model.language_model.layers.3.mlp.up_proj.weight</c>
/// both match), and never a vision tower's layers. Two selectors are equal when their patterns are.
/// </remarks>
public sealed class TargetSelector : IEquatable<TargetSelector>
{
    const string NotVision = "^(?!.*vision)";
    const string LayerPrefix = @"(?:.+\.)?layers\.\d+\.";

    readonly Regex[] _regexes;

    TargetSelector(string[] patterns)
    {
        Patterns = patterns;
        _regexes = patterns.Select(p => new Regex(p, RegexOptions.CultureInvariant | RegexOptions.Compiled, TimeSpan.FromSeconds(1))).ToArray();
    }

    /// <summary>The MLP <c>gate_proj</c>, <c>up_proj</c> and <c>down_proj</c> of every layer, as the authors (t2-reference §1.1).</summary>
    public static TargetSelector Mlp { get; } = new([NotVision + LayerPrefix + @"mlp\.(?:gate_proj|up_proj|down_proj)\.weight$"]);

    /// <summary>The attention <c>q_proj</c>, <c>k_proj</c>, <c>v_proj</c> and <c>o_proj</c> of every layer.</summary>
    public static TargetSelector Attention { get; } = new([NotVision + LayerPrefix + @"self_attn\.(?:q_proj|k_proj|v_proj|o_proj)\.weight$"]);

    /// <summary>Both <see cref="Mlp"/> and <see cref="Attention"/>.</summary>
    public static TargetSelector MlpAndAttention { get; } = new([.. Mlp.Patterns, .. Attention.Patterns]);

    /// <summary>The authors' choice: <see cref="Mlp"/>.</summary>
    public static TargetSelector Default => Mlp;

    /// <summary>A selector that matches a name when any of <paramref name="regexes"/> matches it (.NET regex syntax, unanchored unless you anchor).</summary>
    /// <param name="regexes">One or more regular expressions.</param>
    /// <exception cref="ArgumentException">No pattern was given, or one is not a valid regular expression.</exception>
    public static TargetSelector FromPatterns(params string[] regexes)
    {
        ArgumentNullException.ThrowIfNull(regexes);
        if (regexes.Length == 0) throw new ArgumentException("Give at least one pattern.", nameof(regexes));
        foreach (string pattern in regexes)
        {
            ArgumentException.ThrowIfNullOrEmpty(pattern, nameof(regexes));
            try
            {
                _ = new Regex(pattern, RegexOptions.CultureInvariant);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"Target pattern '{pattern}' is not a valid regular expression: {e.Message}", nameof(regexes), e);
            }
        }
        return new TargetSelector(regexes.ToArray());
    }

    /// <summary>The regular expressions, in order.</summary>
    public IReadOnlyList<string> Patterns { get; }

    /// <summary>Whether parameter <paramref name="name"/> is a target.</summary>
    /// <param name="name">Full parameter name, e.g. <c>model.layers.0.mlp.gate_proj.weight</c>.</param>
    public bool IsTarget(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var regex in _regexes)
            if (regex.IsMatch(name)) return true;
        return false;
    }

    /// <inheritdoc/>
    public bool Equals(TargetSelector? other) => other is not null && Patterns.SequenceEqual(other.Patterns, StringComparer.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as TargetSelector);

    /// <inheritdoc/>
    public override int GetHashCode() => Patterns.Aggregate(17, (h, p) => HashCode.Combine(h, StringComparer.Ordinal.GetHashCode(p)));

    /// <summary>The patterns, joined by <c> | </c>.</summary>
    public override string ToString() => string.Join(" | ", Patterns);
}
