namespace Transformer2.Core.Svd;

/// <summary>Progress of building a <see cref="DecompositionCache"/>, reported after each matrix.</summary>
/// <param name="Completed">Matrices done so far (including resumed ones).</param>
/// <param name="Total">Matrices to decompose in all.</param>
/// <param name="Name">The matrix just finished.</param>
/// <param name="Resumed">True when the matrix came from an earlier, interrupted run instead of being decomposed now.</param>
/// <param name="Elapsed">Time spent on this matrix (zero when resumed).</param>
public sealed record DecompositionProgress(int Completed, int Total, string Name, bool Resumed, TimeSpan Elapsed);
