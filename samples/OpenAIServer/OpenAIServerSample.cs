using Transformer2.Adaptation.DependencyInjection;
using Transformer2.Server;

namespace Transformer2.Samples.OpenAIServer;

// An OpenAI-compatible server over a Transformer² pipeline: POST /v1/chat/completions (plain and streaming) and
// GET /v1/models, where the model "auto" is Transformer² dispatch, "base" the unadapted model, and each expert is a model
// of its own. Any OpenAI client talks to it; try
//   curl http://127.0.0.1:5000/v1/chat/completions -H 'Content-Type: application/json' \
//     -d '{"model":"auto","messages":[{"role":"user","content":"What is 7 + 6?"}],"max_tokens":16}'
// Usage: OpenAIServer [--urls http://127.0.0.1:5000] [--Transformer2:ModelFolder FOLDER] [--OpenAIServer:ApiKey KEY] …
// Every setting of TransformerSquaredOptions and OpenAIServerOptions can come from appsettings.json, the environment
// (Transformer2__ModelFolder, OpenAIServer__ApiKey) or the command line.
public static class OpenAIServerSample
{
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        if (builder.Configuration["urls"] is null) builder.WebHost.UseUrls("http://127.0.0.1:5000");

        // The pipeline, from the "Transformer2" section; the bundled model and prompt dispatch when nothing is configured.
        builder.Services.AddTransformerSquared(options =>
        {
            builder.Configuration.GetSection("Transformer2").Bind(options);
            if (options.ModelFolder is null)
            {
                options.ModelFolder = BundledModel();
                options.ExpertFolders.Add(Path.Combine(options.ModelFolder, "experts"));
                options.Categories["math"] = "arith";
                options.Categories["code"] = "code";
                options.Categories["reasoning"] = "choice";
                options.MaxNewTokens = 64;
            }
        });
        // The endpoint, from the "OpenAIServer" section: API key, concurrency, queue, model names.
        builder.Services.AddTransformerSquaredOpenAI(options => builder.Configuration.GetSection("OpenAIServer").Bind(options));

        var app = builder.Build();
        app.MapTransformerSquaredOpenAI();
        return app;
    }

    // The bundled tiny model (samples/models/t2-tiny), found by walking up from the program to the repository root.
    static string BundledModel()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Transformer2.sln"))) return Path.Combine(dir.FullName, "samples", "models", "t2-tiny");
        throw new DirectoryNotFoundException("The bundled model was not found above " + AppContext.BaseDirectory + "; set Transformer2:ModelFolder.");
    }
}
