using System.Text.Json;
using System.Text.Json.Nodes;

namespace Transformer2.Models.Llava;

/// <summary>Reads typed values from one JSON object of a config file; every failure names the file and the full key.</summary>
internal readonly struct JsonConfigReader(JsonObject node, string source, string prefix = "")
{
    InvalidDataException Wrong(string key, JsonNode value, string expected) =>
        new($"Model config '{source}': '{prefix}{key}' must be {expected} (got {value.ToJsonString()}).");

    JsonNode? Get(string key) => node.TryGetPropertyValue(key, out var value) ? value : null;

    public int? Int(string key)
    {
        var v = Get(key);
        if (v is null) return null;
        return v is JsonValue value && value.GetValueKind() == JsonValueKind.Number && value.TryGetValue(out int i) ? i
            : v is JsonValue d && d.TryGetValue(out double x) && x == Math.Floor(x) && x is >= int.MinValue and <= int.MaxValue ? (int)x
            : throw Wrong(key, v, "an integer");
    }

    public double? Double(string key)
    {
        var v = Get(key);
        if (v is null) return null;
        return v is JsonValue value && value.GetValueKind() == JsonValueKind.Number && value.TryGetValue(out double d) && double.IsFinite(d) ? d
            : throw Wrong(key, v, "a number");
    }

    public bool? Bool(string key)
    {
        var v = Get(key);
        if (v is null) return null;
        return v.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Wrong(key, v, "true or false"),
        };
    }

    public string? String(string key)
    {
        var v = Get(key);
        if (v is null) return null;
        return v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw Wrong(key, v, "a string");
    }

    /// <summary>An integer or a list of integers (for example <c>vision_feature_layer</c>).</summary>
    public IReadOnlyList<int>? IntOrIntList(string key)
    {
        var v = Get(key);
        if (v is null) return null;
        if (v is not JsonArray array) return [Int(key)!.Value];
        var result = new List<int>();
        foreach (var item in array)
        {
            if (item is JsonValue value && value.GetValueKind() == JsonValueKind.Number && value.TryGetValue(out int i)) result.Add(i);
            else throw Wrong(key, v, "an integer or a list of integers");
        }
        return result;
    }

    /// <summary>A list of [height, width] pairs (<c>image_grid_pinpoints</c>).</summary>
    public IReadOnlyList<(int Height, int Width)>? Pairs(string key)
    {
        var v = Get(key);
        if (v is null) return null;
        if (v is not JsonArray array) throw Wrong(key, v, "a list of [height, width] pairs");
        var result = new List<(int, int)>();
        foreach (var item in array)
        {
            if (item is not JsonArray pair || pair.Count != 2
                || pair[0] is not JsonValue h || !h.TryGetValue(out int height)
                || pair[1] is not JsonValue w || !w.TryGetValue(out int width))
                throw Wrong(key, v, "a list of [height, width] integer pairs");
            result.Add((height, width));
        }
        return result;
    }

    public JsonObject? Object(string key)
    {
        var v = Get(key);
        if (v is null) return null;
        return v as JsonObject ?? throw Wrong(key, v, "an object");
    }

    public IReadOnlyList<double>? Doubles(string key)
    {
        var v = Get(key);
        if (v is null) return null;
        if (v is not JsonArray array) throw Wrong(key, v, "a list of numbers");
        var result = new List<double>();
        foreach (var item in array)
        {
            if (item is JsonValue value && value.TryGetValue(out double d) && double.IsFinite(d)) result.Add(d);
            else throw Wrong(key, v, "a list of numbers");
        }
        return result;
    }
}
