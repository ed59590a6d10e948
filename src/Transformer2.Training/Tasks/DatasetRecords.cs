using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parquet.Serialization;

namespace Transformer2.Training.Tasks;

/// <summary>Reads dataset rows from local JSON lines, JSON array or Parquet files as JSON objects.</summary>
public static class DatasetRecords
{
    /// <summary>
    /// The rows of <paramref name="path"/>: <c>.parquet</c> files through Parquet.Net (structs become objects, lists arrays),
    /// <c>.json</c> files holding an array of objects, anything else as JSON lines (one object per non-blank line).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">A line or row is not a JSON object, or the Parquet file cannot be read.</exception>
    public static IReadOnlyList<JsonObject> Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Dataset file '{path}' does not exist.", path);
        }

        var extension = Path.GetExtension(path).ToLowerInvariant();
        return extension switch
        {
            ".parquet" => ReadParquet(path),
            ".json" => ReadJsonArrayOrLines(path),
            _ => ReadJsonLines(path),
        };
    }

    private static List<JsonObject> ReadJsonArrayOrLines(string path)
    {
        var text = File.ReadAllText(path);
        if (!text.TrimStart().StartsWith('['))
        {
            return ReadJsonLines(path);
        }

        JsonNode? root;
        try
        {
            root = JsonNode.Parse(text);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Dataset file '{path}' is not valid JSON: {e.Message}", e);
        }

        var rows = new List<JsonObject>();
        var index = 0;
        foreach (var element in root!.AsArray())
        {
            rows.Add(element as JsonObject ?? throw new InvalidDataException($"Dataset file '{path}': element {index} is not a JSON object."));
            index++;
        }

        return rows;
    }

    private static List<JsonObject> ReadJsonLines(string path)
    {
        var rows = new List<JsonObject>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            JsonNode? node;
            try
            {
                node = JsonNode.Parse(line);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"Dataset file '{path}', line {lineNumber}: not valid JSON ({e.Message}).", e);
            }

            rows.Add(node as JsonObject ?? throw new InvalidDataException($"Dataset file '{path}', line {lineNumber}: not a JSON object."));
        }

        return rows;
    }

    private static List<JsonObject> ReadParquet(string path)
    {
        IList<Dictionary<string, object>> data;
        try
        {
            using var stream = File.OpenRead(path);
            data = ParquetSerializer.DeserializeUntypedAsync(stream).GetAwaiter().GetResult().Data;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"Dataset file '{path}' could not be read as Parquet: {e.Message}", e);
        }

        return data.Select(row => (JsonObject)ToNode(row)!).ToList();
    }

    /// <summary>
    /// A struct field: a binary field named <c>bytes</c> (Hugging Face's Image and Audio features, <c>{bytes, path}</c>) stays
    /// binary, a <see cref="JsonValue"/> holding the <c>byte[]</c> (<c>GetValue&lt;byte[]&gt;()</c>; base64 when serialised);
    /// other binary fields are read as UTF-8 text as before.
    /// </summary>
    private static JsonNode? StructField(string name, object? value) =>
        name == "bytes" && value is byte[] bytes ? JsonValue.Create(bytes) : ToNode(value);

    private static JsonNode? ToNode(object? value) => value switch
    {
        null => null,
        string s => JsonValue.Create(s),
        ReadOnlyMemory<char> m => JsonValue.Create(m.ToString()),
        bool b => JsonValue.Create(b),
        byte[] bytes => JsonValue.Create(System.Text.Encoding.UTF8.GetString(bytes)),
        sbyte or byte or short or ushort or int or uint or long => JsonValue.Create(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)),
        ulong u => JsonValue.Create(u),
        float or double or decimal => JsonValue.Create(Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture)),
        IDictionary<string, object> dict => new JsonObject(dict.Select(kv => KeyValuePair.Create(kv.Key, StructField(kv.Key, kv.Value)))),
        IDictionary map => new JsonObject(map.Keys.Cast<object>().Select(k => KeyValuePair.Create(Convert.ToString(k, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty, ToNode(map[k])))),
        IEnumerable list => new JsonArray(list.Cast<object?>().Select(ToNode).ToArray()),
        IFormattable f => JsonValue.Create(f.ToString(null, System.Globalization.CultureInfo.InvariantCulture)),
        _ => JsonValue.Create(value.ToString()),
    };
}
