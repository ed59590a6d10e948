namespace Transformer2.Server.Protocol;

/// <summary>The body of <c>GET /v1/models</c>.</summary>
internal sealed record ModelList(IReadOnlyList<ModelList.Model> Data)
{
    public string Object => "list";

    /// <summary>One model; <see cref="Transformer2"/> says what it means here (<c>auto</c>, <c>base</c> or <c>expert</c>).</summary>
    internal sealed record Model(string Id, long Created, string OwnedBy, string Transformer2)
    {
        public string Object => "model";
    }
}
