namespace Transformer2.Models.Generation;

/// <summary>One token produced for one row of a (possibly batched) generation.</summary>
/// <param name="Row">The prompt's index in the batch (0 for a single prompt).</param>
/// <param name="Index">The token's index within that row's output.</param>
/// <param name="TokenId">The token.</param>
/// <param name="LogProb">Its log-probability under the model's unmodified distribution (temperature 1, no top-k/top-p, no penalty): log π(token | context).</param>
/// <param name="Finish">Set on the row's last token: why the row stopped.</param>
public sealed record GeneratedToken(int Row, int Index, int TokenId, float LogProb, FinishReason? Finish);
