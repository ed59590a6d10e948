using Transformer2.Adaptation.Search;

namespace Transformer2.Tests.Adaptation;

public class SearchTests
{
    static readonly double[] Target = { 0.8, 0.1, 0.35 };

    static ValueTask<CandidateFitness> Quadratic(IReadOnlyList<double> x, CancellationToken _) =>
        ValueTask.FromResult(new CandidateFitness(-x.Select((v, i) => (v - Target[i]) * (v - Target[i])).Sum()));

    [Test]
    public async Task CemConvergesOnASmoothObjectiveAndNeverLosesItsBest()
    {
        var cem = new CrossEntropyMethod(new SearchOptions { Generations = 25 });
        var result = await cem.SearchAsync(new[] { 1 / 3.0, 1 / 3.0, 1 / 3.0 }, Quadratic);
        Assert.That(result.Best.Select((v, i) => Math.Abs(v - Target[i])).Max(), Is.LessThan(0.05));
        var best = result.History.Select(h => h.BestScore).ToList();
        Assert.That(best, Is.Ordered, "re-evaluating the best keeps the best score monotone");
        Assert.That(result.Evaluations, Is.EqualTo(25 * 32));
        Assert.That(result.History[^1].MeanStd, Is.LessThan(result.History[0].MeanStd));
    }

    [Test]
    public async Task CemStaysInsideTheBounds()
    {
        var seen = new List<double>();
        var cem = new CrossEntropyMethod(new SearchOptions { Generations = 5, Minimum = 0, Maximum = 1, InitialStd = 3 });
        await cem.SearchAsync(new[] { 0.5, 0.5 }, (x, _) => { seen.AddRange(x); return ValueTask.FromResult(new CandidateFitness(x[0])); });
        Assert.That(seen, Is.All.InRange(0.0, 1.0));
    }

    [Test]
    public async Task EqualScoresAreBrokenByLogLikelihood()
    {
        // Every candidate scores the same; only the log-likelihood prefers x0 near 0.3.
        var cem = new CrossEntropyMethod(new SearchOptions { Generations = 15 });
        var result = await cem.SearchAsync(new[] { 0.9 }, (x, _) => ValueTask.FromResult(new CandidateFitness(1.0, -Math.Abs(x[0] - 0.3))));
        Assert.That(result.Best[0], Is.EqualTo(0.3).Within(0.05));
        var blind = new CrossEntropyMethod(new SearchOptions { Generations = 15, UseLogLikelihoodForTies = false });
        var first = await blind.SearchAsync(new[] { 0.9 }, (x, _) => ValueTask.FromResult(new CandidateFitness(1.0, -Math.Abs(x[0] - 0.3))));
        Assert.That(first.Best[0], Is.EqualTo(0.9), "without tie-breaking the re-evaluated member 0 wins every tie");
    }

    [Test]
    public async Task SameSeedSameResult()
    {
        var a = await new CrossEntropyMethod(new SearchOptions { Generations = 4, Seed = 7 }).SearchAsync(new[] { 0.5, 0.5, 0.5 }, Quadratic);
        var b = await new CrossEntropyMethod(new SearchOptions { Generations = 4, Seed = 7 }).SearchAsync(new[] { 0.5, 0.5, 0.5 }, Quadratic);
        var c = await new CrossEntropyMethod(new SearchOptions { Generations = 4, Seed = 8 }).SearchAsync(new[] { 0.5, 0.5, 0.5 }, Quadratic);
        Assert.That(a.Best, Is.EqualTo(b.Best));
        Assert.That(a.Best, Is.Not.EqualTo(c.Best));
    }

    [Test]
    public async Task RandomShootingImprovesOnItsStart()
    {
        var start = new[] { 0.0, 1.0, 1.0 };
        var startScore = (await Quadratic(start, default)).Score;
        var result = await new RandomShooting(new SearchOptions { Generations = 10, UseLogLikelihoodForTies = false }).SearchAsync(start, Quadratic);
        Assert.That(result.BestFitness.Score, Is.GreaterThan(startScore + 0.5));
    }

    [Test]
    public void CancellationStopsTheSearch()
    {
        using var cts = new CancellationTokenSource();
        int calls = 0;
        var cem = new CrossEntropyMethod(new SearchOptions { Generations = 100 });
        Assert.ThrowsAsync<OperationCanceledException>(async () => await cem.SearchAsync(new[] { 0.5 }, (x, ct) =>
        {
            if (++calls == 40) cts.Cancel();
            ct.ThrowIfCancellationRequested();
            return ValueTask.FromResult(new CandidateFitness(x[0]));
        }, cancellationToken: cts.Token));
        Assert.That(calls, Is.LessThan(100));
    }

    [Test]
    public void BadOptionsNameTheSetting()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEntropyMethod(new SearchOptions { EliteRatio = 0.01 }));
        Assert.That(ex!.ParamName, Is.EqualTo("EliteRatio"));
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEntropyMethod(new SearchOptions { Minimum = 1, Maximum = 0 }));
        Assert.That(ex!.ParamName, Is.EqualTo("Maximum"));
    }
}
