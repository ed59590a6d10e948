using Transformer2.Training.Tasks;

namespace Transformer2.Tests.Training.Tasks;

public class PythonRandomTests
{
    // Reference values printed by CPython 3.11: random.seed(16); random.shuffle(list(range(n))).
    [Test]
    public void ShuffleMatchesCPython()
    {
        var ix = Enumerable.Range(0, 300).ToArray();
        new PythonRandom(16).Shuffle(ix);
        Assert.That(ix.Take(12), Is.EqualTo(new[] { 107, 76, 291, 238, 93, 19, 260, 275, 245, 201, 227, 43 }));
        Assert.That(ix.Skip(200).Take(6), Is.EqualTo(new[] { 222, 25, 211, 58, 18, 225 }));

        var small = Enumerable.Range(0, 7).ToArray();
        new PythonRandom(16).Shuffle(small);
        Assert.That(small, Is.EqualTo(new[] { 4, 0, 1, 6, 5, 3, 2 }));
    }

    // random.seed(42); random.randint(0, n - 1) for n = 1..10.
    [Test]
    public void RandIntAfterSeed42MatchesCPython()
    {
        var expected = new[] { 0, 0, 2, 0, 0, 5, 5, 1, 1, 1 };
        for (var n = 1; n <= 10; n++)
        {
            Assert.That(new PythonRandom(42).RandInt(0, n - 1), Is.EqualTo(expected[n - 1]), $"n={n}");
        }
    }
}
