namespace Transformer2.Models.Chat;

/// <summary>The role names chat templates understand.</summary>
public static class ChatRoles
{
    /// <summary>The system prompt.</summary>
    public const string System = "system";

    /// <summary>The user.</summary>
    public const string User = "user";

    /// <summary>The model.</summary>
    public const string Assistant = "assistant";
}
