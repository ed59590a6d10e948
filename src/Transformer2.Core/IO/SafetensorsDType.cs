using TorchSharp;

namespace Transformer2.Core.IO;

/// <summary>The safetensors dtype names this library reads and writes, and their TorchSharp equivalents.</summary>
internal static class SafetensorsDType
{
    // Rank follows the order of the reference (Rust) implementation's dtype enum: its writer lays tensors out
    // by descending rank, so that the wider (more aligned) types come first.
    static readonly (string Name, torch.ScalarType Type, int Size, int Rank)[] Table =
    [
        ("BOOL", torch.ScalarType.Bool, 1, 0),
        ("U8", torch.ScalarType.Byte, 1, 1),
        ("I8", torch.ScalarType.Int8, 1, 2),
        ("I16", torch.ScalarType.Int16, 2, 3),
        ("F16", torch.ScalarType.Float16, 2, 4),
        ("BF16", torch.ScalarType.BFloat16, 2, 5),
        ("I32", torch.ScalarType.Int32, 4, 6),
        ("F32", torch.ScalarType.Float32, 4, 7),
        ("F64", torch.ScalarType.Float64, 8, 8),
        ("I64", torch.ScalarType.Int64, 8, 9),
    ];

    /// <summary>All supported dtype names.</summary>
    public static IEnumerable<string> Names => Table.Select(t => t.Name);

    public static bool TryParse(string name, out torch.ScalarType type, out int elementSize)
    {
        foreach (var entry in Table)
        {
            if (entry.Name == name)
            {
                type = entry.Type;
                elementSize = entry.Size;
                return true;
            }
        }
        type = default;
        elementSize = 0;
        return false;
    }

    public static string NameOf(torch.ScalarType type, string tensorName)
    {
        foreach (var entry in Table)
            if (entry.Type == type) return entry.Name;
        throw new ArgumentException($"Tensor '{tensorName}' has dtype {type}, which safetensors files written by this library do not support (supported: {string.Join(", ", Names)}).");
    }

    public static int RankOf(string name) => Table.First(t => t.Name == name).Rank;
}
