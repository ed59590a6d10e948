namespace Transformer2.Models.Chat;

/// <summary>One turn of a conversation, as chat templates render it.</summary>
/// <param name="Role">The speaker: <c>system</c>, <c>user</c> or <c>assistant</c> (see <see cref="ChatRoles"/>).</param>
/// <param name="Content">The text of the turn.</param>
/// <remarks>
/// <see cref="Images"/> are for vision-language models (LLaVA): each takes the place of one <c>&lt;image&gt;</c> in
/// <see cref="Content"/>, in order; when the text holds no placeholder, one per image is put in front of it, each on its own
/// line (the layout of <c>VqaTask</c>'s prompt). Templates render only the text.
/// </remarks>
public sealed record ChatMessage(string Role, string Content)
{
    /// <summary>Images shown with this turn, in the order of their placeholders (empty for text).</summary>
    public IReadOnlyList<ChatImage> Images { get; init; } = [];

    /// <summary>A system message.</summary>
    public static ChatMessage System(string content) => new(ChatRoles.System, content);

    /// <summary>A user message.</summary>
    public static ChatMessage User(string content) => new(ChatRoles.User, content);

    /// <summary>A user message showing <paramref name="images"/>.</summary>
    public static ChatMessage User(string content, params ChatImage[] images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Any(i => i is null)) throw new ArgumentException("An image is null.", nameof(images));
        return new(ChatRoles.User, content) { Images = images };
    }

    /// <summary>An assistant message.</summary>
    public static ChatMessage Assistant(string content) => new(ChatRoles.Assistant, content);

    /// <summary>Equal role, text and the same image objects in the same order.</summary>
    public bool Equals(ChatMessage? other) =>
        other is not null && Role == other.Role && Content == other.Content && (ReferenceEquals(Images, other.Images) || Images.SequenceEqual(other.Images));

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Role, Content, Images.Count);
}
