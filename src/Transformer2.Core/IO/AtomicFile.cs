namespace Transformer2.Core.IO;

/// <summary>
/// Writes files so that readers see either the old content or the complete new content, never a torn file.
/// </summary>
/// <remarks>
/// The content goes to a temporary file in the target's folder (same file system, so the final rename is atomic),
/// is flushed to disk, and is then renamed over the target. If writing fails, the target is left untouched and the
/// temporary file is removed.
/// </remarks>
public static class AtomicFile
{
    const int BufferSize = 1 << 20;

    /// <summary>Writes <paramref name="path"/> atomically with content produced by <paramref name="write"/>.</summary>
    /// <param name="path">Target file. Its folder is created if missing.</param>
    /// <param name="write">Writes the whole content to the given stream. It must not dispose the stream.</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty or names a folder.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string target = System.IO.Path.GetFullPath(path);
        string fileName = System.IO.Path.GetFileName(target);
        if (fileName.Length == 0) throw new ArgumentException($"'{path}' names a folder, not a file.", nameof(path));
        if (Directory.Exists(target)) throw new ArgumentException($"'{path}' is an existing folder, not a file.", nameof(path));
        string folder = System.IO.Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(folder);

        // Hidden, unique name in the same folder: a rename across file systems would not be atomic.
        string temp = System.IO.Path.Combine(folder, $".{fileName}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, target, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Writes <paramref name="contents"/> as UTF-8 (no byte-order mark) to <paramref name="path"/> atomically.</summary>
    /// <param name="path">Target file.</param>
    /// <param name="contents">Text to write.</param>
    public static void WriteAllText(string path, string contents)
    {
        ArgumentNullException.ThrowIfNull(contents);
        Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false), BufferSize, leaveOpen: true);
            writer.Write(contents);
        });
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    /// <param name="path">Target file.</param>
    /// <param name="bytes">Content to write.</param>
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        Write(path, stream => stream.Write(bytes));
    }

    static void TryDelete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The original failure matters more than a leftover temporary file.
        }
    }
}
