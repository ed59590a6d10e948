namespace Transformer2.Training.Lora;

/// <summary>What an <c>adapter_config.json</c> says.</summary>
/// <param name="Config">Rank, α, dropout and target modules.</param>
/// <param name="BaseModelNameOrPath">The base model the adapter was trained on (<c>base_model_name_or_path</c>); empty if not given.</param>
/// <param name="TaskType">PEFT's <c>task_type</c>, e.g. <c>CAUSAL_LM</c>, if given.</param>
public sealed record LoraAdapterInfo(LoraConfig Config, string BaseModelNameOrPath, string? TaskType);
