using TorchSharp;
using TorchSharp.Modules;
using Transformer2.Core.Kernels;
using static TorchSharp.torch;

namespace Transformer2.Core.Svf;

/// <summary>
/// A drop-in replacement for a bias-free or biased <c>Linear</c> that can rescale the singular values of its weight.
/// </summary>
/// <remarks>
/// Fields <c>weight</c> and <c>bias</c> keep the checkpoint keys of the layer it replaces; the SVD factors are
/// non-persistent buffers, so the state dict is unchanged. The base weight never requires a gradient: training
/// an expert allocates no weight-sized gradient buffers. Three ways to adapt:
/// <list type="bullet">
/// <item><see cref="Multiplier"/> (or an ambient <see cref="SvfContext"/>) with <see cref="Path"/> = factored: no weight mutation.</item>
/// <item>Composed path: W' built for each forward, differentiable through z.</item>
/// <item><see cref="Merge"/>: W' written into <c>weight</c> once; <see cref="Unmerge"/> restores the original bits.</item>
/// </list>
/// <para>
/// <see cref="DropDenseWeight"/> makes the layer factored-only: it keeps U, S and V and frees W, so an adapted model
/// needs the other weights plus the factors (≈ 1.29× each 4096×14336 matrix) instead of W plus the factors, and an
/// expert switch is a vector swap. The base model is then y = ((x·V)⊙S)·Uᵀ (z = 1), equal to x·Wᵀ up to rounding; every
/// forward reads U and V instead of W (two thinner GEMMs). Merging refuses, the state dict lacks <c>weight</c>, and
/// <see cref="RestoreDenseWeight"/> rebuilds W = U·diag(S)·Vᵀ when a dense weight is needed again.
/// </para>
/// </remarks>
public sealed class SvfLinear : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // Field names are checkpoint keys.
    /// <summary>
    /// The base weight [out, in] (or the merged W' while <see cref="IsMerged"/>); null once <see cref="DropDenseWeight"/>
    /// made the layer factored-only.
    /// </summary>
    public Parameter? weight;

    /// <summary>The bias [out], if the replaced layer had one.</summary>
    public Parameter? bias;

    // Field names equal buffer names: TorchSharp's to(dtype/device) swaps buffers by name, field included.
    Tensor svf_u;   // U [out, k], weight dtype
    Tensor svf_s;   // S [k], fp32 (fp64 for fp64 weights)
    Tensor svf_v;   // V [in, k], weight dtype
#pragma warning restore IDE1006
    readonly WeightBackup _original = new();   // the base weight while merged

    /// <summary>Creates the layer from a weight, an optional bias and the weight's reduced SVD (V, not Vᵀ).</summary>
    /// <param name="targetName">The weight's full name, e.g. <c>model.layers.0.mlp.up_proj.weight</c>; the key in <see cref="SvfContext"/> maps.</param>
    /// <param name="weight">[out, in]; its dtype and device are kept.</param>
    /// <param name="bias">[out] or null.</param>
    /// <param name="u">U [out, k].</param>
    /// <param name="singularValues">S [k].</param>
    /// <param name="v">V [in, k].</param>
    public SvfLinear(string targetName, Tensor weight, Tensor? bias, Tensor u, Tensor singularValues, Tensor v) : base(nameof(SvfLinear))
    {
        ArgumentException.ThrowIfNullOrEmpty(targetName);
        if (weight.ndim != 2) throw new ArgumentException($"{targetName}: weight must be 2-D, got [{string.Join(", ", weight.shape)}].", nameof(weight));
        SvfComposer.CheckFactors(u, singularValues, v);
        if (u.shape[0] != weight.shape[0] || v.shape[0] != weight.shape[1])
            throw new ArgumentException($"{targetName}: factors U [{string.Join(", ", u.shape)}], V [{string.Join(", ", v.shape)}] do not match weight [{string.Join(", ", weight.shape)}].");
        if (bias is not null && (bias.ndim != 1 || bias.shape[0] != weight.shape[0]))
            throw new ArgumentException($"{targetName}: bias shape [{string.Join(", ", bias.shape)}] does not match {weight.shape[0]} outputs.", nameof(bias));

        TargetName = targetName;
        // Everything the module keeps is detached from the caller's dispose scope: the module owns it.
        this.weight = (Parameter)new Parameter(weight.detach(), requires_grad: false).DetachFromDisposeScope();
        this.bias = bias is null ? null : (Parameter)new Parameter(bias.detach(), requires_grad: false).DetachFromDisposeScope();
        svf_u = Own(u.to(weight.dtype, weight.device).contiguous(), u);
        svf_s = Own(singularValues.to(SingularValueType(weight.dtype), weight.device).contiguous(), singularValues);
        svf_v = Own(v.to(weight.dtype, weight.device).contiguous(), v);
        // Registered by hand, not by RegisterComponents: the factors must stay out of the state dict.
        register_parameter(nameof(weight), this.weight);
        if (this.bias is not null) register_parameter(nameof(bias), this.bias);
        register_buffer(nameof(svf_u), svf_u, persistent: false);
        register_buffer(nameof(svf_s), svf_s, persistent: false);
        register_buffer(nameof(svf_v), svf_v, persistent: false);
    }

    /// <summary>The full name of the weight this layer adapts.</summary>
    public string TargetName { get; }

    /// <summary>Output features (rows of W).</summary>
    public long OutFeatures => svf_u.shape[0];

    /// <summary>Input features (columns of W).</summary>
    public long InFeatures => svf_v.shape[0];

    /// <summary>The weight's dtype, which U and V share (also when the dense weight was dropped).</summary>
    public ScalarType DType => svf_u.dtype;

    /// <summary>False once <see cref="DropDenseWeight"/> made the layer factored-only.</summary>
    public bool HasDenseWeight => weight is not null;

    /// <summary>Number of singular values, the length of an SVF vector for this layer.</summary>
    public long Rank => svf_s.shape[0];

    /// <summary>U [out, k] in the weight's dtype.</summary>
    public Tensor U => svf_u;

    /// <summary>S [k] in fp32.</summary>
    public Tensor S => svf_s;

    /// <summary>V [in, k] in the weight's dtype.</summary>
    public Tensor V => svf_v;

    /// <summary>
    /// The multiplier z used when no <see cref="SvfContext"/> is active: [k], or [batch, k] for one per batch row.
    /// Null runs the base weight. The caller owns the tensor.
    /// </summary>
    public Tensor? Multiplier { get; set; }

    /// <summary>How <see cref="Multiplier"/> is applied; a per-row multiplier always takes the factored path.</summary>
    public SvfPath Path { get; set; } = SvfPath.Factored;

    /// <summary>True between <see cref="Merge"/> and <see cref="Unmerge"/>.</summary>
    public bool IsMerged => _original.HasCopy;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor? z = Multiplier;
        SvfPath path = Path;
        if (SvfContext.TryGet(TargetName, out var ambient, out var ambientPath))
        {
            z = ambient;
            path = ambientPath;
        }
        if (z is null && weight is not null) return DecodeGemv.TryLinear(input, weight, bias, out var decoded) ? decoded : nn.functional.linear(input, weight, bias);
        if (z is not null && z.shape[^1] != Rank)
            throw new ArgumentException($"{TargetName}: multiplier has {z.shape[^1]} entries, the layer has {Rank} singular values.");

        using var scope = NewDisposeScope();
        Tensor output;
        if (z is null || z.ndim == 2 || path == SvfPath.Factored)
        {
            // Factored-only base model: z = 1 rescales nothing, so the scale is S itself.
            var scale = (z is null ? svf_s : SvfComposer.ScaledSingularValues(svf_s, z)).to_type(input.dtype);  // [k] or [B, k]
            // One decoded token: the managed kernel streams V and U on every core (falls through when it does not apply).
            if (z is not { ndim: 2 } && DecodeGemv.TryFactored(input, svf_v, scale, svf_u, bias, out var decodedFactored)) return decodedFactored.MoveToOuterDisposeScope();
            var h = input.matmul(svf_v);                                                   // [..., in]·[in, k] → [..., k]
            if (z is { ndim: 2 })
            {
                if (input.ndim < 2 || input.shape[0] != z.shape[0])
                    throw new ArgumentException($"{TargetName}: per-row multiplier for {z.shape[0]} rows, input has shape [{string.Join(", ", input.shape)}].");
                var shape = new long[input.ndim];                                        // [B, 1, ..., 1, k]
                Array.Fill(shape, 1L);
                shape[0] = z.shape[0];
                shape[^1] = Rank;
                scale = scale.reshape(shape);
            }
            output = (h * scale).matmul(svf_u.t());                                        // [..., k]·[k, out] → [..., out]
            if (bias is not null) output = KeptScalars.Add(output, bias);
        }
        else
        {
            var adapted = SvfComposer.Compose(svf_u, svf_s, svf_v, z, input.dtype);             // [out, in]
            output = nn.functional.linear(input, adapted, bias);
        }
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>Writes W' for <paramref name="z"/> into <c>weight</c>; the original is kept for <see cref="Unmerge"/>.</summary>
    /// <exception cref="InvalidOperationException">The layer is factored-only.</exception>
    public void Merge(Tensor z)
    {
        RequireDenseWeight("merge an expert");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var adapted = SvfComposer.Compose(svf_u, svf_s, svf_v, z, DType);
        MergeComposed(adapted);
    }

    /// <summary>Writes an already composed W' (same shape as the weight) into <c>weight</c>.</summary>
    /// <exception cref="InvalidOperationException">The layer is factored-only.</exception>
    public void MergeComposed(Tensor adapted)
    {
        var weight = RequireDenseWeight("merge a composed weight");
        if (!adapted.shape.SequenceEqual(weight.shape))
            throw new ArgumentException($"{TargetName}: composed weight [{string.Join(", ", adapted.shape)}] does not match [{string.Join(", ", weight.shape)}].", nameof(adapted));
        using var noGrad = no_grad();
        _original.SaveOnce(weight);
        weight.copy_(adapted);
    }

    /// <summary>Keeps the base weight (once) and lets <paramref name="write"/> overwrite <c>weight</c> in place; restored on failure.</summary>
    internal void MergeInPlace(Action<Tensor> write)
    {
        var weight = RequireDenseWeight("blend experts into its weight");
        using var noGrad = no_grad();
        bool wasMerged = IsMerged;
        _original.SaveOnce(weight);
        try
        {
            write(weight);
        }
        catch
        {
            if (!wasMerged) _original.Restore(weight);
            throw;
        }
    }

    /// <summary>Restores the base weight bit for bit. A no-op when not merged (always so for a factored-only layer).</summary>
    public void Unmerge()
    {
        if (weight is not null) _original.Restore(weight);
    }

    /// <summary>
    /// Frees the dense weight: from now on the layer computes from U, S and V alone (see the remarks on the class).
    /// A no-op when already factored-only.
    /// </summary>
    /// <exception cref="InvalidOperationException">The layer is merged: unmerge first, or the base weight would be lost.</exception>
    public void DropDenseWeight()
    {
        if (weight is null) return;
        if (IsMerged)
            throw new InvalidOperationException($"{TargetName}: cannot drop the dense weight while an expert is merged into it; call Unmerge first.");
        Unregister(nameof(weight));
        weight.Dispose();
        weight = null;
    }

    /// <summary>
    /// Rebuilds the dense weight W = U·diag(S)·Vᵀ in <see cref="DType"/> (equal to the dropped one up to rounding) and
    /// registers it again, ahead of the bias as in the layer it replaced. A no-op when the layer has its dense weight.
    /// </summary>
    public void RestoreDenseWeight()
    {
        if (weight is not null) return;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var dense = svf_u.mul(svf_s.to_type(DType)).matmul(svf_v.t());   // [out, k]·[k, in]
        weight = (Parameter)new Parameter(dense, requires_grad: false).DetachFromDisposeScope();
        bool hadBias = Unregister(nameof(bias));
        register_parameter(nameof(weight), weight);
        if (hadBias && bias is not null) register_parameter(nameof(bias), bias);
    }

    bool Unregister(string parameterName)
    {
        for (int i = 0; i < _internal_params.Count; i++)
        {
            if (_internal_params[i].Item1 != parameterName) continue;
            _internal_params.RemoveAt(i);
            return true;
        }
        return false;
    }

    Parameter RequireDenseWeight(string operation) => weight ?? throw new InvalidOperationException(
        $"{TargetName}: cannot {operation}: the layer is factored-only (its dense weight was dropped). Use factored expert application, or call RestoreDenseWeight first.");

    /// <inheritdoc />
    protected override void _toEpilog(ScalarType? scalarType, Device? device, bool non_blocking)
    {
        base._toEpilog(scalarType, device, non_blocking);
        // TorchSharp leaves these buffers as they were: follow the weight (S at least fp32) and re-point the fields.
        // A factored-only layer has no weight to follow: U and V take the requested dtype and device themselves.
        var type = weight?.dtype ?? scalarType ?? svf_u.dtype;
        var target = weight?.device ?? device ?? svf_u.device;
        svf_u = Follow(nameof(svf_u), type, target);
        svf_v = Follow(nameof(svf_v), type, target);
        svf_s = Follow(nameof(svf_s), SingularValueType(type), target);
        if (weight is not null) _original.Follow(weight);
    }

    Tensor Follow(string name, ScalarType type, Device device)
    {
        var current = _internal_buffers[name].Item1;
        if (current.dtype == type && current.device == device) return current;
        var moved = current.to(type, device).DetachFromDisposeScope();
        _internal_buffers[name] = (moved, false);
        current.Dispose();
        return moved;
    }

    /// <summary>Our own handle: a conversion that changed nothing returns the caller's tensor, which the caller may dispose.</summary>
    static Tensor Own(Tensor converted, Tensor original) =>
        (ReferenceEquals(converted, original) ? original.alias() : converted).DetachFromDisposeScope();

    static ScalarType SingularValueType(ScalarType weightType) => weightType == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) _original.Dispose();
        base.Dispose(disposing);
    }
}
