using Transformer2.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Transformer2.Training.Lora;

/// <summary>
/// A drop-in replacement for a <c>Linear</c> that adds a trainable low-rank update: <c>y = x Wᵀ + b + (α/r)·B(A(dropout(x)))</c>,
/// as Hugging Face PEFT's LoRA layer.
/// </summary>
/// <remarks>
/// <c>weight</c> and <c>bias</c> keep the checkpoint keys of the layer it replaces and never require a gradient; the update lives
/// in the child modules <c>lora_A</c> (A [r, in], Kaiming-uniform) and <c>lora_B</c> (B [out, r], zeros, so the layer starts equal to
/// its base), whose weights are the only trainable tensors. For fp16/bf16 bases the adapter is kept in fp32, as PEFT does, and the
/// update is cast back to the base's dtype. Dropout acts on the LoRA path only and only in training mode.
/// </remarks>
public sealed class LoraLinear : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // Field names are checkpoint keys.
    /// <summary>The frozen base weight [out, in] (or W + (α/r)·B·A while <see cref="IsMerged"/>).</summary>
    public Parameter weight;

    /// <summary>The frozen bias [out], if the replaced layer had one.</summary>
    public Parameter? bias;

    /// <summary>The down projection A: a bias-free linear with weight [r, in].</summary>
    public Linear lora_A;

    /// <summary>The up projection B: a bias-free linear with weight [out, r].</summary>
    public Linear lora_B;
#pragma warning restore IDE1006
    readonly WeightBackup _original = new();   // the base weight while merged

    /// <summary>Wraps a base weight and optional bias; A is drawn from <paramref name="generator"/> (or the global generator).</summary>
    /// <param name="modulePath">The replaced module's path, e.g. <c>model.layers.0.self_attn.q_proj</c>.</param>
    /// <param name="weight">Base weight [out, in]; kept frozen, dtype and device unchanged.</param>
    /// <param name="bias">Base bias [out] or null.</param>
    /// <param name="config">Rank, α and dropout (validated).</param>
    /// <param name="generator">Random source for A's initialisation; null uses torch's global generator.</param>
    public LoraLinear(string modulePath, Tensor weight, Tensor? bias, LoraConfig config, Generator? generator = null) : base(nameof(LoraLinear))
    {
        ArgumentException.ThrowIfNullOrEmpty(modulePath);
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (weight.ndim != 2) throw new ArgumentException($"{modulePath}: weight must be 2-D, got [{string.Join(", ", weight.shape)}].", nameof(weight));
        if (bias is not null && (bias.ndim != 1 || bias.shape[0] != weight.shape[0]))
            throw new ArgumentException($"{modulePath}: bias shape [{string.Join(", ", bias.shape)}] does not match {weight.shape[0]} outputs.", nameof(bias));
        if (!weight.is_floating_point()) throw new ArgumentException($"{modulePath}: weight dtype {weight.dtype} is not floating point.", nameof(weight));

        ModulePath = modulePath;
        Rank = config.Rank;
        Scaling = config.Scaling;
        DropoutProbability = config.Dropout;
        long outFeatures = weight.shape[0], inFeatures = weight.shape[1];
        var adapterType = AdapterType(weight.dtype);

        this.weight = (Parameter)new Parameter(weight.detach(), requires_grad: false).DetachFromDisposeScope();
        this.bias = bias is null ? null : (Parameter)new Parameter(bias.detach(), requires_grad: false).DetachFromDisposeScope();
        using (no_grad())
        {
            // PEFT: kaiming_uniform_(A, a=√5) → U(−1/√in, 1/√in); B = 0.
            double bound = 1.0 / Math.Sqrt(inFeatures);
            using var scope = NewDisposeScope();
            var a = rand(new[] { (long)Rank, inFeatures }, adapterType, weight.device, generator: generator) * (2 * bound) - bound;
            var b = zeros(new[] { outFeatures, (long)Rank }, adapterType, weight.device);
            lora_A = nn.Linear((Parameter)new Parameter(a, requires_grad: true).DetachFromDisposeScope());
            lora_B = nn.Linear((Parameter)new Parameter(b, requires_grad: true).DetachFromDisposeScope());
        }
        register_parameter(nameof(weight), this.weight);
        if (this.bias is not null) register_parameter(nameof(bias), this.bias);
        register_module(nameof(lora_A), lora_A);
        register_module(nameof(lora_B), lora_B);
    }

    /// <summary>The path of the module this layer replaced.</summary>
    public string ModulePath { get; }

    /// <summary>Rank r.</summary>
    public int Rank { get; }

    /// <summary>α / r.</summary>
    public double Scaling { get; }

    /// <summary>Dropout probability on the LoRA path in training mode.</summary>
    public double DropoutProbability { get; }

    /// <summary>Input features.</summary>
    public long InFeatures => weight.shape[1];

    /// <summary>Output features.</summary>
    public long OutFeatures => weight.shape[0];

    /// <summary>A's weight [r, in].</summary>
    public Parameter A => lora_A.weight!;

    /// <summary>B's weight [out, r].</summary>
    public Parameter B => lora_B.weight!;

    /// <summary>Trainable scalars: r·(in + out).</summary>
    public long ParameterCount => A.numel() + B.numel();

    /// <summary>When false the layer runs its base weight only (the LoRA path is skipped); true by default.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>True between <see cref="Merge"/> and <see cref="Unmerge"/>: the update is in <c>weight</c> and the LoRA path is skipped.</summary>
    public bool IsMerged => _original.HasCopy;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.shape.Length == 0 || input.shape[^1] != InFeatures)
            throw new ArgumentException($"{ModulePath}: input has shape [{string.Join(", ", input.shape)}], the layer expects {InFeatures} features.", nameof(input));
        if (!Enabled || IsMerged) return nn.functional.linear(input, weight, bias);
        using var scope = NewDisposeScope();
        var result = nn.functional.linear(input, weight, bias);
        var x = input.to_type(A.dtype);
        if (training && DropoutProbability > 0) x = nn.functional.dropout(x, DropoutProbability, training: true);
        var update = lora_B.call(lora_A.call(x)) * Scaling;
        return (result + update.to_type(result.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>The update (α/r)·B·A [out, in] in the adapter's dtype, without autograd history.</summary>
    public Tensor DeltaWeight()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return (B.matmul(A) * Scaling).MoveToOuterDisposeScope();
    }

    /// <summary>Adds the update into <c>weight</c> (the original is kept for <see cref="Unmerge"/>). A no-op when already merged.</summary>
    public void Merge()
    {
        if (IsMerged) return;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        _original.SaveOnce(weight);
        var merged = weight.to_type(A.dtype) + DeltaWeight();
        weight.copy_(merged);
    }

    /// <summary>Restores the base weight bit for bit. A no-op when not merged.</summary>
    public void Unmerge() => _original.Restore(weight);

    /// <inheritdoc />
    protected override void _toEpilog(ScalarType? scalarType, Device? device, bool non_blocking)
    {
        base._toEpilog(scalarType, device, non_blocking);
        _original.Follow(weight);
    }

    /// <summary>fp32 adapters for half-precision bases (PEFT's default), the base's dtype otherwise.</summary>
    internal static ScalarType AdapterType(ScalarType weightType) =>
        weightType is ScalarType.Float16 or ScalarType.BFloat16 ? ScalarType.Float32 : weightType;

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) _original.Dispose();
        base.Dispose(disposing);
    }
}
