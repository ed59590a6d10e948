namespace Transformer2.Core.Experts;

/// <summary>An expert does not fit the model it is applied to: another base model, a missing or extra key, or a wrong length.</summary>
public sealed class ExpertMismatchException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What does not match, naming the expert and key.</param>
    /// <param name="key">The parameter name at fault, if one.</param>
    public ExpertMismatchException(string message, string? key = null) : base(message) => Key = key;

    /// <summary>The parameter name at fault, or <c>null</c> when the whole expert is at fault (for example, another base model).</summary>
    public string? Key { get; }
}
