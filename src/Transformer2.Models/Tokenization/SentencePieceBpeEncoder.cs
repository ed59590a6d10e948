using System.Text;

namespace Transformer2.Models.Tokenization;

/// <summary>
/// SentencePiece's BPE segmentation, written to match Google's <c>bpe_model.cc</c> exactly: start from single characters
/// (user-defined pieces stay whole), repeatedly merge the adjacent pair whose merged piece has the highest score, breaking
/// ties by the leftmost pair, re-split unused pieces, and fall back to <c>&lt;0xNN&gt;</c> byte pieces for unknown symbols.
/// Microsoft.ML.Tokenizers 2.0.1's <c>LlamaTokenizer</c> orders equal-score pairs differently, which changes the result on
/// runs of repeated characters and spaces; this class is the workaround.
/// </summary>
internal sealed class SentencePieceBpeEncoder
{
    private readonly Dictionary<string, int> _mergeable = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _mergeableLookup;
    private readonly Dictionary<string, int> _allPieces = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _allPiecesLookup;
    private readonly float[] _scores;
    private readonly SentencePieceType[] _types;
    private readonly int[] _byteIds = Enumerable.Repeat(-1, 256).ToArray();
    private readonly string[] _userDefined;
    private readonly int _unknownId;
    private readonly bool _byteFallback;

    public SentencePieceBpeEncoder(SentencePieceModel model, string source)
    {
        _scores = new float[model.Pieces.Count];
        _types = new SentencePieceType[model.Pieces.Count];
        for (var id = 0; id < model.Pieces.Count; id++)
        {
            var (piece, score, type) = model.Pieces[id];
            _scores[id] = score;
            _types[id] = type;
            // sentencepiece's model_interface: reserved (control/unknown/byte) ids win lookups; the rest take part in merges.
            if (type is SentencePieceType.Normal or SentencePieceType.UserDefined or SentencePieceType.Unused)
                _mergeable.TryAdd(piece, id);
            if (!_allPieces.TryAdd(piece, id) && type is not (SentencePieceType.Normal or SentencePieceType.UserDefined or SentencePieceType.Unused))
                _allPieces[piece] = id;
            if (type == SentencePieceType.Byte)
            {
                if (piece.Length != 6 || !piece.StartsWith("<0x", StringComparison.Ordinal) || piece[5] != '>' ||
                    !byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out var value))
                    throw new InvalidDataException($"{source}: byte piece {id} '{piece}' is not of the form <0xNN>.");
                _byteIds[value] = id;
            }
        }
        _mergeableLookup = _mergeable.GetAlternateLookup<ReadOnlySpan<char>>();
        _allPiecesLookup = _allPieces.GetAlternateLookup<ReadOnlySpan<char>>();
        _userDefined = model.Pieces.Where(p => p.Type == SentencePieceType.UserDefined && p.Piece.Length > 0)
            .Select(p => p.Piece).OrderByDescending(p => p.Length).ToArray();
        _unknownId = model.UnknownId;
        _byteFallback = model.ByteFallback;
        if (_byteFallback && _byteIds.Contains(-1))
            throw new InvalidDataException($"{source}: byte_fallback is on but not all 256 <0xNN> pieces exist.");
    }

    /// <summary>Segments already-normalized text (spaces as U+2581) and appends the ids to <paramref name="output"/>.</summary>
    public void Encode(string normalized, List<int> output)
    {
        if (normalized.Length == 0) return;

        // Initial symbols: one code point each, or a whole user-defined piece (longest match).
        var starts = new List<int>();
        var lengths = new List<int>();
        for (var position = 0; position < normalized.Length;)
        {
            var length = UserDefinedLengthAt(normalized, position);
            if (length == 0) length = char.IsHighSurrogate(normalized[position]) && position + 1 < normalized.Length &&
                                      char.IsLowSurrogate(normalized[position + 1]) ? 2 : 1;
            starts.Add(position);
            lengths.Add(length);
            position += length;
        }
        var count = starts.Count;
        var start = starts.ToArray();
        var len = lengths.ToArray();
        var prev = new int[count];
        var next = new int[count];
        for (var i = 0; i < count; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
        }

        // Highest score first; equal scores: the leftmost pair first (bpe_model.cc's SymbolPairComparator).
        var agenda = new PriorityQueue<(int Left, int Right, int Length), (float Score, int Left)>(PairOrder.Instance);
        Dictionary<string, (int LeftLength, int RightLength)>? reverseMerges = null;

        void AddPair(int left, int right)
        {
            if (left < 0 || right < 0) return;
            var length = len[left] + len[right];
            var piece = normalized.AsSpan(start[left], length);
            if (!_mergeableLookup.TryGetValue(piece, out var id)) return;
            agenda.Enqueue((left, right, length), (_scores[id], left));
            if (_types[id] == SentencePieceType.Unused)
            {
                reverseMerges ??= new Dictionary<string, (int, int)>(StringComparer.Ordinal);
                reverseMerges[piece.ToString()] = (len[left], len[right]);
            }
        }

        for (var i = 1; i < count; i++) AddPair(i - 1, i);

        while (agenda.TryDequeue(out var pair, out _))
        {
            var (left, right, length) = pair;
            // Stale entry: one side was merged away or has grown since the pair was queued.
            if (len[left] == 0 || len[right] == 0 || len[left] + len[right] != length) continue;
            len[left] = length;
            len[right] = 0;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            AddPair(prev[left], left);
            AddPair(left, next[left]);
        }

        for (var i = 0; i >= 0 && i < count; i = next[i])
        {
            if (len[i] == 0) continue;
            Resegment(normalized.AsSpan(start[i], len[i]), reverseMerges, output);
        }
    }

    private void Resegment(ReadOnlySpan<char> piece, Dictionary<string, (int LeftLength, int RightLength)>? reverseMerges, List<int> output)
    {
        var id = _allPiecesLookup.TryGetValue(piece, out var found) ? found : _unknownId;
        if (_types[id] == SentencePieceType.Unused && reverseMerges is not null &&
            reverseMerges.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(piece, out var split))
        {
            Resegment(piece[..split.LeftLength], reverseMerges, output);
            Resegment(piece[split.LeftLength..], reverseMerges, output);
            return;
        }
        if (id == _unknownId && _byteFallback)
        {
            Span<byte> bytes = stackalloc byte[Encoding.UTF8.GetMaxByteCount(piece.Length)];
            var written = Encoding.UTF8.GetBytes(piece, bytes);
            foreach (var b in bytes[..written]) output.Add(_byteIds[b]);
            return;
        }
        output.Add(id);
    }

    private int UserDefinedLengthAt(string text, int position)
    {
        foreach (var piece in _userDefined)
        {
            if (piece.Length <= text.Length - position && string.CompareOrdinal(text, position, piece, 0, piece.Length) == 0)
                return piece.Length;
        }
        return 0;
    }

    private sealed class PairOrder : IComparer<(float Score, int Left)>
    {
        public static readonly PairOrder Instance = new();

        public int Compare((float Score, int Left) x, (float Score, int Left) y)
        {
            var byScore = y.Score.CompareTo(x.Score); // higher score dequeues first
            return byScore != 0 ? byScore : x.Left.CompareTo(y.Left);
        }
    }
}
