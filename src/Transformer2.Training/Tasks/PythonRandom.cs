namespace Transformer2.Training.Tasks;

/// <summary>
/// CPython's <c>random.Random</c> (MT19937 seeded by <c>init_by_array</c>) for the few calls the authors' splits and
/// fallbacks make: <c>seed(int)</c>, <c>randint</c>, <c>shuffle</c>. Same seed, same numbers as Python 3.
/// </summary>
internal sealed class PythonRandom
{
    private const int N = 624;
    private const int M = 397;
    private readonly uint[] _mt = new uint[N];
    private int _index;

    /// <summary>Equivalent of <c>random.seed(seed)</c> for a non-negative or negative int (Python uses |seed|).</summary>
    public PythonRandom(long seed)
    {
        var magnitude = (ulong)Math.Abs(seed);
        var key = new List<uint>();
        do
        {
            key.Add((uint)(magnitude & 0xFFFFFFFF));
            magnitude >>= 32;
        }
        while (magnitude != 0);
        InitByArray(key);
    }

    /// <summary><c>random.randint(a, b)</c>: an integer in [a, b].</summary>
    public int RandInt(int a, int b)
    {
        if (b < a)
        {
            throw new ArgumentOutOfRangeException(nameof(b), $"empty range for randint({a}, {b})");
        }

        return a + (int)RandBelow((uint)(b - a + 1));
    }

    /// <summary><c>random.shuffle(x)</c> in place.</summary>
    public void Shuffle<T>(IList<T> x)
    {
        for (var i = x.Count - 1; i > 0; i--)
        {
            var j = (int)RandBelow((uint)(i + 1));
            (x[i], x[j]) = (x[j], x[i]);
        }
    }

    private uint RandBelow(uint n)
    {
        if (n == 0)
        {
            return 0;
        }

        var k = 32 - System.Numerics.BitOperations.LeadingZeroCount(n);
        var r = GetRandBits(k);
        while (r >= n)
        {
            r = GetRandBits(k);
        }

        return r;
    }

    private uint GetRandBits(int k) => NextUInt32() >> (32 - k);

    private void InitGenRand(uint s)
    {
        _mt[0] = s;
        for (var i = 1; i < N; i++)
        {
            _mt[i] = unchecked((1812433253u * (_mt[i - 1] ^ (_mt[i - 1] >> 30))) + (uint)i);
        }

        _index = N;
    }

    private void InitByArray(IReadOnlyList<uint> key)
    {
        InitGenRand(19650218u);
        int i = 1, j = 0;
        for (var k = Math.Max(N, key.Count); k > 0; k--)
        {
            _mt[i] = unchecked((_mt[i] ^ ((_mt[i - 1] ^ (_mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint)j);
            i++;
            j++;
            if (i >= N)
            {
                _mt[0] = _mt[N - 1];
                i = 1;
            }

            if (j >= key.Count)
            {
                j = 0;
            }
        }

        for (var k = N - 1; k > 0; k--)
        {
            _mt[i] = unchecked((_mt[i] ^ ((_mt[i - 1] ^ (_mt[i - 1] >> 30)) * 1566083941u)) - (uint)i);
            i++;
            if (i >= N)
            {
                _mt[0] = _mt[N - 1];
                i = 1;
            }
        }

        _mt[0] = 0x80000000u;
    }

    private uint NextUInt32()
    {
        if (_index >= N)
        {
            for (var kk = 0; kk < N; kk++)
            {
                var y = (_mt[kk] & 0x80000000u) | (_mt[(kk + 1) % N] & 0x7fffffffu);
                _mt[kk] = _mt[(kk + M) % N] ^ (y >> 1) ^ ((y & 1u) != 0 ? 0x9908b0dfu : 0u);
            }

            _index = 0;
        }

        var v = _mt[_index++];
        v ^= v >> 11;
        v ^= (v << 7) & 0x9d2c5680u;
        v ^= (v << 15) & 0xefc60000u;
        v ^= v >> 18;
        return v;
    }
}
