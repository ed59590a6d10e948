namespace Transformer2.Tests;

/// <summary>The bundled tiny model (samples/models/t2-tiny), found by walking up from the test binaries to the repository root.</summary>
internal static class BundledModel
{
    public static string Folder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Transformer2.sln"))) return Path.Combine(dir.FullName, "samples", "models", "t2-tiny");
        throw new DirectoryNotFoundException("No repository root above " + AppContext.BaseDirectory);
    }
}
