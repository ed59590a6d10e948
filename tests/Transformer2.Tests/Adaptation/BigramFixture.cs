using TorchSharp;
using Transformer2.Core.Experts;
using Transformer2.Core.Svf;
using Transformer2.Models.Chat;
using Transformer2.Models.Llama;
using Transformer2.Models.Tokenization;
using static TorchSharp.torch;

namespace Transformer2.Tests.Adaptation;

/// <summary>
/// A LLaMA whose weights are set by hand so that it is a bigram machine with known behaviour:
/// embeddings and LM head are one-hot, attention is switched off (o_proj = 0), and layer 0's MLP maps token t to
/// m_t·e_next(t) on top of the residual e_t. So the next token is next(t) when m_t &gt; 1 and t again when m_t &lt; 1.
/// The strengths m_t are the singular values of layer 0's down_proj (times a constant), so an SVF expert on that matrix
/// switches transitions on and off in a way the tests can predict.
/// </summary>
internal static class BigramFixture
{
    public const string Alphabet = "\\boxed{math}>?abcz_";   // 19 + 3 specials: an even size, as rotary embeddings need
    public const string DownProj = "model.layers.0.mlp.down_proj.weight";
    const double GateInput = 4.0;   // g·√H: silu(4) ≈ 3.93, comfortably in silu's linear regime

    public static int Id(char c) => Alphabet.IndexOf(c) is var i and >= 0 ? i + 3 : throw new ArgumentException($"'{c}' not in alphabet");

    /// <summary>Unknown characters map to '?'.</summary>
    public static CharTokenizer Tokenizer { get; } = new();

    /// <summary>Renders contents; the generation prompt is '&gt;'.</summary>
    public static IChatTemplate Template { get; } = new MarkerTemplate();

    /// <summary>The model: next(c) for each listed character (null = end of sequence), with strength m (default 2).</summary>
    public static LlamaForCausalLM Model(IReadOnlyDictionary<char, char?> next, IReadOnlyDictionary<char, double>? strengths = null)
    {
        int vocab = Alphabet.Length + 3, hidden = vocab;
        var config = new LlamaConfig
        {
            HiddenSize = hidden,
            IntermediateSize = hidden,
            NumHiddenLayers = 1,
            NumAttentionHeads = 1,
            NumKeyValueHeads = 1,
            HeadDim = hidden,
            RmsNormEps = 1e-9,
            MaxPositionEmbeddings = 4096,
            VocabSize = vocab,
            BosTokenId = 1,
            EosTokenIds = [2],
            TorchDtype = "float32",
        };
        var model = new LlamaForCausalLM(config);
        model.eval();
        var state = model.state_dict();
        using (no_grad())
        {
            foreach (var (name, p) in state)
            {
                if (name.EndsWith("norm.weight")) p.fill_(1);
                else p.zero_();
            }
            state["model.embed_tokens.weight"].copy_(eye(vocab));
            state["lm_head.weight"].copy_(eye(vocab));
            state["model.layers.0.mlp.gate_proj.weight"].copy_(eye(hidden) * (GateInput / Math.Sqrt(hidden)));
            state["model.layers.0.mlp.up_proj.weight"].copy_(eye(hidden));
            double amplitude = Silu(GateInput) * Math.Sqrt(hidden);   // the MLP's gain before down_proj
            var down = state[DownProj];
            int k = 0;
            foreach (var (c, n) in next)
            {
                double m = strengths?.GetValueOrDefault(c, 2.0) ?? 2.0;
                m += 1e-3 * k++;   // distinct singular values, so the SVD (and each expert's meaning) is unique
                down[n is null ? 2 : Id(n.Value), Id(c)] = m / amplitude;
            }
        }
        foreach (var p in model.parameters()) p.requires_grad = false;
        return model;
    }

    /// <summary>An expert on layer 0's down_proj: multiplier <paramref name="boost"/> on the singular values of the listed characters, <paramref name="rest"/> elsewhere (as raw multipliers).</summary>
    public static Expert Expert(LlamaForCausalLM model, string name, IEnumerable<char> boosted, double boost, double rest)
    {
        // The same SVD the pipeline computes when it injects SVF layers (deterministic for the same matrix).
        var (_, _, vh) = linalg.svd(model.state_dict()[DownProj].detach(), fullMatrices: false);
        var ids = boosted.Select(Id).ToHashSet();
        var v = vh.t();   // [in, k]: column j is the input direction of singular value j
        var z = new float[v.shape[1]];
        for (int j = 0; j < z.Length; j++)
        {
            int input = (int)v[.., j].abs().argmax().item<long>();
            z[j] = (float)(ids.Contains(input) ? boost : rest);
        }
        var metadata = new ExpertMetadata
        {
            Name = name,
            Targets = [DownProj],
            Parameterization = SvfParameterization.Default with { Kind = SvfMultiplierKind.Raw },
        };
        return new Expert(metadata, [new(DownProj, tensor(z))]);
    }

    static double Silu(double x) => x / (1 + Math.Exp(-x));

    internal sealed class CharTokenizer : ITextTokenizer
    {
        public string Name => "bigram-chars";
        public int VocabSize => Alphabet.Length + 3;
        public int BosId => 1;
        public IReadOnlyList<int> EosIds => [2];
        public int? PadId => 0;
        public IReadOnlyDictionary<string, int> SpecialTokens => new Dictionary<string, int> { ["<pad>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        public int[] Encode(string text, bool addBos = false) =>
            (addBos ? new[] { 1 } : []).Concat(text.Select(c => Alphabet.Contains(c) ? Id(c) : Id('?'))).ToArray();
        public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false) =>
            string.Concat(ids.Where(i => i >= 3 || !skipSpecialTokens).Select(i => i >= 3 ? Alphabet[i - 3] : '·'));
        public int GetSpecialTokenId(string token) => SpecialTokens[token];
    }

    sealed class MarkerTemplate : IChatTemplate
    {
        public string Name => "marker";
        public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true) =>
            string.Concat(messages.Select(m => m.Content)) + (addGenerationPrompt ? ">" : "");
    }
}
