using Transformer2.Samples.OpenAIServer;

// Ctrl+C stops the host (and cancels requests in flight).
await OpenAIServerSample.Build(args).RunAsync();
