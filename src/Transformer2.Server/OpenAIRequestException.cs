using Microsoft.AspNetCore.Http;
using Transformer2.Server.Protocol;

namespace Transformer2.Server;

/// <summary>A request the server refuses, with the status and the OpenAI error body it answers.</summary>
internal sealed class OpenAIRequestException(int status, string message, string? param = null, string? code = null, string type = "invalid_request_error")
    : Exception(message)
{
    public int Status { get; } = status;

    public OpenAIError Error { get; } = new(new OpenAIError.Body(message, type, param, code));

    /// <summary>A 400 naming the offending field.</summary>
    public static OpenAIRequestException BadRequest(string message, string? param, string? code = null) =>
        new(StatusCodes.Status400BadRequest, message, param, code);
}
