using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Transformer2.Training.Tasks;

/// <summary>
/// Loaders for visual question answering data: the official TextVQA and OKVQA files, and a plain records format.
/// Every item holds the question (<see cref="TaskItem.Prompt"/>), the human answers (<see cref="TaskItem.References"/>)
/// and the image (<see cref="TaskItem.ImagePath"/>, or <see cref="TaskItem.ImageBytes"/> for files that embed it); images are decoded only when used.
/// </summary>
public static class VqaDatasets
{
    /// <summary>
    /// TextVQA (<c>TextVQA_0.5.1_{train,val}.json</c>: <c>{"data": [{"question_id", "question", "image_id", "answers": [10]}]}</c>);
    /// the image is <c>{imageFolder}/{image_id}.jpg</c> (the val split's images live in <c>train_images</c>).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not in this format; the message names the file and entry.</exception>
    public static IReadOnlyList<TaskItem> LoadTextVqa(string path, string imageFolder)
    {
        ArgumentNullException.ThrowIfNull(imageFolder);
        var root = ParseObject(path);
        var data = root["data"] as JsonArray ?? throw new InvalidDataException($"TextVQA file '{path}' has no 'data' array.");
        var items = new List<TaskItem>(data.Count);
        for (int i = 0; i < data.Count; i++)
        {
            var entry = data[i] as JsonObject ?? throw new InvalidDataException($"TextVQA file '{path}': data[{i}] is not an object.");
            string id = Scalar(path, $"data[{i}]", entry, "question_id");
            string image = Scalar(path, $"data[{i}]", entry, "image_id");
            items.Add(new TaskItem(id, Scalar(path, $"data[{i}]", entry, "question"))
            {
                References = Answers(path, $"data[{i}]", entry["answers"]),
                ImagePath = Path.Combine(imageFolder, image + ".jpg"),
                Metadata = new Dictionary<string, string> { ["image_id"] = image },
            });
        }
        return items;
    }

    /// <summary>
    /// OKVQA (<c>OpenEnded_mscoco_val2014_questions.json</c> and <c>mscoco_val2014_annotations.json</c>): questions joined
    /// with their annotations by <c>question_id</c>; the image is <c>{imageFolder}/{imagePrefix}{image_id:D12}.jpg</c>.
    /// </summary>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">A file is not in this format or a question has no annotation.</exception>
    public static IReadOnlyList<TaskItem> LoadOkVqa(string questionsPath, string annotationsPath, string imageFolder, string imagePrefix = "COCO_val2014_")
    {
        ArgumentNullException.ThrowIfNull(imageFolder);
        ArgumentNullException.ThrowIfNull(imagePrefix);
        var questions = ParseObject(questionsPath)["questions"] as JsonArray
            ?? throw new InvalidDataException($"OKVQA questions file '{questionsPath}' has no 'questions' array.");
        var annotations = ParseObject(annotationsPath)["annotations"] as JsonArray
            ?? throw new InvalidDataException($"OKVQA annotations file '{annotationsPath}' has no 'annotations' array.");
        var answersById = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        for (int i = 0; i < annotations.Count; i++)
        {
            var entry = annotations[i] as JsonObject ?? throw new InvalidDataException($"OKVQA annotations file '{annotationsPath}': annotations[{i}] is not an object.");
            answersById[Scalar(annotationsPath, $"annotations[{i}]", entry, "question_id")] = Answers(annotationsPath, $"annotations[{i}]", entry["answers"]);
        }
        var items = new List<TaskItem>(questions.Count);
        for (int i = 0; i < questions.Count; i++)
        {
            var entry = questions[i] as JsonObject ?? throw new InvalidDataException($"OKVQA questions file '{questionsPath}': questions[{i}] is not an object.");
            string id = Scalar(questionsPath, $"questions[{i}]", entry, "question_id");
            string image = Scalar(questionsPath, $"questions[{i}]", entry, "image_id");
            if (!long.TryParse(image, NumberStyles.None, CultureInfo.InvariantCulture, out long imageNumber))
                throw new InvalidDataException($"OKVQA questions file '{questionsPath}': questions[{i}].image_id '{image}' is not a number.");
            if (!answersById.TryGetValue(id, out var answers))
                throw new InvalidDataException($"OKVQA question {id} in '{questionsPath}' has no annotation in '{annotationsPath}'.");
            items.Add(new TaskItem(id, Scalar(questionsPath, $"questions[{i}]", entry, "question"))
            {
                References = answers,
                ImagePath = Path.Combine(imageFolder, imagePrefix + imageNumber.ToString("D12", CultureInfo.InvariantCulture) + ".jpg"),
                Metadata = new Dictionary<string, string> { ["image_id"] = image },
            });
        }
        return items;
    }

    /// <summary>
    /// Plain records (JSON lines, a JSON array or Parquet, see <see cref="DatasetRecords.Read"/>) with <c>question</c>,
    /// <c>image</c> and <c>answers</c> (strings or <c>{"answer": …}</c> objects); <c>question_id</c> or <c>id</c> is the item id
    /// (the row number when absent). <c>image</c> is a path (relative to <paramref name="imageFolder"/> or to the file's
    /// folder), or Hugging Face's Image feature <c>{bytes, path}</c> as its Parquet exports of TextVQA/OKVQA store it: the
    /// encoded bytes become <see cref="TaskItem.ImageBytes"/> (base64 text is accepted in JSON files) and the stored path
    /// goes to <c>Metadata["image_path"]</c>; a struct with no bytes falls back to its path.
    /// </summary>
    /// <exception cref="InvalidDataException">A row lacks a field, or its image has neither bytes nor a path; the message names the file and row.</exception>
    public static IReadOnlyList<TaskItem> LoadRecords(string path, string? imageFolder = null)
    {
        var rows = DatasetRecords.Read(path);
        string folder = imageFolder ?? Path.GetDirectoryName(Path.GetFullPath(path))!;
        var items = new List<TaskItem>(rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            string where = $"row {i}";
            string id = row.ContainsKey("question_id") ? Scalar(path, where, row, "question_id")
                : row.ContainsKey("id") ? Scalar(path, where, row, "id") : i.ToString(CultureInfo.InvariantCulture);
            var (imagePath, imageBytes, imageName) = Image(path, where, row, folder);
            items.Add(new TaskItem(id, Scalar(path, where, row, "question"))
            {
                References = Answers(path, where, row["answers"]),
                ImagePath = imagePath,
                ImageBytes = imageBytes,
                Metadata = imageName is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["image_path"] = imageName },
            });
        }
        return items;
    }

    /// <summary>
    /// A record's <c>image</c>: a path string, or Hugging Face's Image feature <c>{bytes, path}</c>. Bytes win (the stored
    /// path is then only the original file name, kept as metadata); without bytes the path is resolved like a plain path.
    /// </summary>
    static (string? Path, byte[]? Bytes, string? Name) Image(string path, string where, JsonObject row, string folder)
    {
        if (row["image"] is not JsonObject image) return (System.IO.Path.Combine(folder, Scalar(path, where, row, "image")), null, null);
        string? stored = image["path"] switch
        {
            null => null,
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            var other => throw new InvalidDataException($"Dataset file '{path}': {where}.image.path must be a string (got {other.ToJsonString()})."),
        };
        byte[]? bytes = image["bytes"] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<byte[]>(out var raw) => raw,
            JsonValue v when v.GetValueKind() == JsonValueKind.String => Base64(path, where, v.GetValue<string>()),
            var other => throw new InvalidDataException($"Dataset file '{path}': {where}.image.bytes must be binary or base64 text (got {other.GetValueKind()})."),
        };
        if (bytes is { Length: > 0 }) return (null, bytes, string.IsNullOrEmpty(stored) ? null : stored);
        if (!string.IsNullOrEmpty(stored)) return (System.IO.Path.Combine(folder, stored), null, null);
        throw new InvalidDataException($"Dataset file '{path}': {where}.image has neither bytes nor a path.");
    }

    static byte[] Base64(string path, string where, string text)
    {
        try
        {
            return Convert.FromBase64String(text);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"Dataset file '{path}': {where}.image.bytes is text but not base64.", e);
        }
    }

    static JsonObject ParseObject(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Dataset file '{path}' does not exist.", path);
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"Dataset file '{path}' must hold a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Dataset file '{path}' is not valid JSON: {e.Message}", e);
        }
    }

    static string Scalar(string path, string where, JsonObject entry, string key) => entry[key] switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.ToJsonString(),
        null => throw new InvalidDataException($"Dataset file '{path}': {where} has no '{key}'."),
        var other => throw new InvalidDataException($"Dataset file '{path}': {where}.{key} must be a string or number (got {other.ToJsonString()})."),
    };

    static IReadOnlyList<string> Answers(string path, string where, JsonNode? node)
    {
        if (node is not JsonArray array || array.Count == 0)
            throw new InvalidDataException($"Dataset file '{path}': {where}.answers must be a non-empty list.");
        var answers = new List<string>(array.Count);
        foreach (var answer in array)
        {
            answers.Add(answer switch
            {
                JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
                JsonObject o when o["answer"] is JsonValue a && a.GetValueKind() == JsonValueKind.String => a.GetValue<string>(),
                _ => throw new InvalidDataException($"Dataset file '{path}': {where}.answers holds {answer?.ToJsonString() ?? "null"}, not a string or {{\"answer\": …}}."),
            });
        }
        return answers;
    }
}
