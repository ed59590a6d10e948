using Transformer2.Tests.Models;

namespace Transformer2.Tests.Adaptation.Export;

/// <summary>What every export test class shares: the bundled model loaded once, and a fresh output folder per test.</summary>
public abstract class ExportTestBase
{
    /// <summary>LlamaCppOracleTests' F32 tolerance.</summary>
    protected const float OracleTolerance = 1e-4f;

    protected ExportFixture _fixture = null!;
    protected string _output = "";

    [OneTimeSetUp]
    public void Load() => _fixture = new ExportFixture();

    [OneTimeTearDown]
    public void Unload() => _fixture.Dispose();

    [SetUp]
    public void CreateFolder() => _output = TinyModels.TempFolder();

    [TearDown]
    public void DeleteFolder()
    {
        if (Directory.Exists(_output)) Directory.Delete(_output, recursive: true);
    }
}
