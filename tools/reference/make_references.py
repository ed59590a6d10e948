"""Reference outputs from the Python stack (PyTorch + Hugging Face transformers) for Transformer2's tests.

Run once on a machine with torch/transformers (the tests never run it): it writes tiny random checkpoints in the
Hugging Face layout our loaders read (config.json in the transformers-4 format, model.safetensors) plus
reference.safetensors with inputs and outputs, into one tar.gz. Each section is independent; failures are logged
in errors.txt and the other sections still run.

    python3 make_references.py OUT_DIR
"""
import json, os, sys, tarfile, traceback, io

import torch
from safetensors.torch import save_file

out = sys.argv[1]
work = os.path.join(out, "refs")
os.makedirs(work, exist_ok=True)
errors = []
torch.use_deterministic_algorithms(True)
torch.set_default_dtype(torch.float32)


def section(name):
    def wrap(fn):
        try:
            folder = os.path.join(work, name)
            os.makedirs(folder, exist_ok=True)
            fn(folder)
            print("ok", name, flush=True)
        except Exception:
            errors.append(f"== {name}\n{traceback.format_exc()}")
            print("FAILED", name, flush=True)
        return fn
    return wrap


def write_config(folder, config):
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)


def save_weights(folder, model):
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    if getattr(model.config, "tie_word_embeddings", False) or getattr(getattr(model.config, "text_config", None), "tie_word_embeddings", False):
        state = {k: v for k, v in state.items() if not k.endswith("lm_head.weight")}
    save_file(state, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})


def llama_like(folder, arch, config, ids, extra=None):
    import transformers
    cls_cfg = getattr(transformers, arch.replace("ForCausalLM", "Config"))
    cls_model = getattr(transformers, arch)
    torch.manual_seed(1234)
    cfg = cls_cfg(**config)
    cfg._attn_implementation = "eager"
    model = cls_model(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
        for n, p in model.named_parameters():
            if n.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
        logits = model(input_ids=ids).logits
    write_config(folder, {**config, "architectures": [arch], "torch_dtype": "float32"})
    save_weights(folder, model)
    refs = {"input_ids": ids, "logits": logits.contiguous()}
    inv = [b for n, b in model.named_buffers() if n.endswith("inv_freq")]
    if inv:
        refs["inv_freq"] = inv[0].detach().float().contiguous()
    save_file(refs, os.path.join(folder, "reference.safetensors"))
    with open(os.path.join(folder, "hf_config.json"), "w") as f:
        f.write(model.config.to_json_string())


base_llama = dict(model_type="llama", vocab_size=101, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=256,
                  rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False, bos_token_id=1,
                  eos_token_id=[2, 3], attention_bias=False, mlp_bias=False, hidden_act="silu")
ids = torch.tensor([[1, 17, 5, 88, 42, 42, 9, 63, 100, 0, 31, 7, 54, 23]], dtype=torch.long)


@section("llama-gqa")
def _(folder):
    llama_like(folder, "LlamaForCausalLM", base_llama, ids)


@section("llama3-rope")
def _(folder):
    cfg = dict(base_llama, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                          "high_freq_factor": 4.0, "original_max_position_embeddings": 32})
    llama_like(folder, "LlamaForCausalLM", cfg, ids)


@section("llama-tied")
def _(folder):
    llama_like(folder, "LlamaForCausalLM", dict(base_llama, tie_word_embeddings=True, num_key_value_heads=4), ids)


@section("mistral-sliding")
def _(folder):
    cfg = dict(model_type="mistral", vocab_size=101, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=1, head_dim=8, max_position_embeddings=128,
               rms_norm_eps=1e-5, rope_theta=1000000.0, sliding_window=4, tie_word_embeddings=False,
               bos_token_id=1, eos_token_id=2, hidden_act="silu")
    llama_like(folder, "MistralForCausalLM", cfg, ids)


@section("svf")
def _(folder):
    # The authors' composition (utils.compose_new_params) and its gradient, in fp32 and in bf16 as they run it.
    g = torch.Generator().manual_seed(7)
    w = torch.randn(24, 16, generator=g) / 4
    U, S, V = torch.svd(w)
    p = 0.1 + 0.01 * torch.randn(16, generator=g) + torch.linspace(-1, 1, 16)
    G = torch.randn(24, 16, generator=g)
    refs = {"weight": w, "U": U, "S": S, "V": V, "p": p, "G": G}
    for dtype, tag in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        pp = p.clone().to(dtype).requires_grad_(True)
        m = torch.sigmoid(pp).to(dtype) * 1.0
        Ud, Sd, Vd = U.to(dtype), S.to(dtype), V.to(dtype)
        wp = Ud @ torch.diag_embed(Sd * m) @ Vd.T * (Sd.sum() / (Sd * m).sum())
        (wp * G.to(dtype)).sum().backward()
        refs[f"composed_{tag}"] = wp.detach().float()
        refs[f"grad_p_{tag}"] = pp.grad.detach().float()
    # The mixture policy (weighted_combination): raw p mixed, used directly as the multiplier.
    p2 = 0.1 + 0.5 * torch.randn(16, generator=g)
    alpha = torch.tensor([0.3, 0.9])
    z = alpha[0] * p + alpha[1] * p2
    refs["p2"] = p2
    refs["alpha"] = alpha
    refs["mixture_raw_composed"] = U @ torch.diag_embed(S * z) @ V.T * (S.sum() / (S * z).sum())
    save_file({k: v.contiguous() for k, v in refs.items()}, os.path.join(folder, "reference.safetensors"))


def as_features(x):
    """transformers 5 returns a ModelOutput from get_image_features; older versions a tensor or a list of tensors."""
    note = type(x).__name__
    if not torch.is_tensor(x) and not isinstance(x, (list, tuple)):
        keys = list(x.keys()) if hasattr(x, "keys") else []
        note += " keys=" + ",".join(keys)
        for name in ("pooler_output", "image_embeds", "last_hidden_state"):
            v = getattr(x, name, None)
            if v is not None:
                note += " used=" + name
                x = v
                break
    if isinstance(x, (list, tuple)):
        x = torch.cat([f.reshape(-1, f.shape[-1]) for f in x], 0)
    return x, note


CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def synthetic_image(width, height):
    from PIL import Image
    img = Image.new("RGB", (width, height))
    px = img.load()
    for y in range(height):
        for x in range(width):
            px[x, y] = ((x * 5 + y) % 256, (y * 7) % 256, (x * y) % 256)
    return img


def tiny_vision():
    return dict(model_type="clip_vision_model", hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                num_attention_heads=4, image_size=30, patch_size=10, projection_dim=32, hidden_act="quick_gelu",
                layer_norm_eps=1e-5, num_channels=3)


def tiny_text(vocab=128):
    return dict(model_type="llama", vocab_size=vocab, hidden_size=48, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, head_dim=12, max_position_embeddings=256,
                rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                hidden_act="silu")


@section("llava-1.5")
def _(folder):
    import transformers
    from transformers import LlavaConfig, LlavaForConditionalGeneration, CLIPImageProcessor
    image_token = 127
    cfg_dict = dict(model_type="llava", vision_config=tiny_vision(), text_config=tiny_text(), image_token_index=image_token,
                    projector_hidden_act="gelu", vision_feature_select_strategy="default", vision_feature_layer=-2)
    cfg = LlavaConfig(vision_config=transformers.CLIPVisionConfig(**tiny_vision()),
                      text_config=transformers.LlamaConfig(**tiny_text()),
                      image_token_index=image_token, projector_hidden_act="gelu",
                      vision_feature_select_strategy="default", vision_feature_layer=-2)
    try:
        cfg.image_token_id = image_token
    except Exception:
        pass
    cfg._attn_implementation = "eager"
    torch.manual_seed(99)
    model = LlavaForConditionalGeneration(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    image = synthetic_image(45, 37)
    image.save(os.path.join(folder, "image.png"))
    processor = CLIPImageProcessor(size={"shortest_edge": 30}, crop_size={"height": 30, "width": 30},
                                   do_center_crop=True, image_mean=CLIP_MEAN, image_std=CLIP_STD, resample=3)
    pixel_values = processor(images=image, return_tensors="pt")["pixel_values"].float()
    n_image_tokens = (30 // 10) ** 2   # 'default' drops the class token
    input_ids = torch.tensor([[1, 5, 9] + [image_token] * n_image_tokens + [12, 44, 3]], dtype=torch.long)
    with torch.no_grad():
        out = model(input_ids=input_ids, pixel_values=pixel_values, output_hidden_states=False)
        feats, note = as_features(model.get_image_features(pixel_values=pixel_values, vision_feature_layer=-2, vision_feature_select_strategy="default"))
        with open(os.path.join(folder, "features_note.txt"), "w") as f:
            f.write(note)
        vision_out = model.vision_tower if hasattr(model, "vision_tower") else model.model.vision_tower
        vo = vision_out(pixel_values, output_hidden_states=True)
    write_config(folder, {**cfg_dict, "architectures": ["LlavaForConditionalGeneration"], "torch_dtype": "float32"})
    save_weights(folder, model)
    refs = {"input_ids": input_ids, "pixel_values": pixel_values.contiguous(), "logits": out.logits.contiguous(),
            "image_features": feats.contiguous(), "vision_last_hidden_state": vo.last_hidden_state.contiguous(),
            "vision_hidden_state_minus2": vo.hidden_states[-2].contiguous()}
    save_file(refs, os.path.join(folder, "reference.safetensors"))
    with open(os.path.join(folder, "hf_config.json"), "w") as f:
        f.write(model.config.to_json_string())
    with open(os.path.join(folder, "state_dict_keys.txt"), "w") as f:
        f.write("\n".join(f"{k} {list(v.shape)}" for k, v in model.state_dict().items()))


@section("llava-next")
def _(folder):
    import transformers
    from transformers import LlavaNextConfig, LlavaNextForConditionalGeneration, LlavaNextImageProcessor
    image_token = 127
    pinpoints = [[30, 60], [60, 30], [60, 60]]
    cfg_dict = dict(model_type="llava_next", vision_config=tiny_vision(), text_config=tiny_text(), image_token_index=image_token,
                    projector_hidden_act="gelu", vision_feature_select_strategy="default", vision_feature_layer=-2,
                    image_grid_pinpoints=pinpoints)
    cfg = LlavaNextConfig(vision_config=transformers.CLIPVisionConfig(**tiny_vision()),
                          text_config=transformers.LlamaConfig(**tiny_text()), image_token_index=image_token,
                          projector_hidden_act="gelu", vision_feature_select_strategy="default",
                          vision_feature_layer=-2, image_grid_pinpoints=pinpoints)
    try:
        cfg.image_token_id = image_token
    except Exception:
        pass
    cfg._attn_implementation = "eager"
    torch.manual_seed(77)
    model = LlavaNextForConditionalGeneration(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    image = synthetic_image(50, 80)
    image.save(os.path.join(folder, "image.png"))
    processor = LlavaNextImageProcessor(size={"shortest_edge": 30}, crop_size={"height": 30, "width": 30},
                                        image_grid_pinpoints=pinpoints, image_mean=CLIP_MEAN, image_std=CLIP_STD,
                                        do_center_crop=True, resample=3)
    processed = processor(images=image, return_tensors="pt")
    pixel_values = processed["pixel_values"].float()
    image_sizes = processed["image_sizes"]
    with torch.no_grad():
        feats, note = as_features(model.get_image_features(pixel_values=pixel_values, image_sizes=image_sizes,
                                         vision_feature_layer=-2, vision_feature_select_strategy="default"))
        with open(os.path.join(folder, "features_note.txt"), "w") as f:
            f.write(note)
        n = feats.shape[0]
        input_ids = torch.tensor([[1, 5, 9] + [image_token] * n + [12, 44, 3]], dtype=torch.long)
        out = model(input_ids=input_ids, pixel_values=pixel_values, image_sizes=image_sizes)
    write_config(folder, {**cfg_dict, "architectures": ["LlavaNextForConditionalGeneration"], "torch_dtype": "float32"})
    save_weights(folder, model)
    save_file({"input_ids": input_ids, "pixel_values": pixel_values.contiguous(), "image_sizes": image_sizes.long(),
               "logits": out.logits.contiguous(), "image_features": feats.contiguous()},
              os.path.join(folder, "reference.safetensors"))
    with open(os.path.join(folder, "hf_config.json"), "w") as f:
        f.write(model.config.to_json_string())
    with open(os.path.join(folder, "state_dict_keys.txt"), "w") as f:
        f.write("\n".join(f"{k} {list(v.shape)}" for k, v in model.state_dict().items()))


with open(os.path.join(work, "versions.txt"), "w") as f:
    import transformers, safetensors
    f.write(f"torch {torch.__version__}\ntransformers {transformers.__version__}\nsafetensors {safetensors.__version__}\n")
with open(os.path.join(work, "errors.txt"), "w") as f:
    f.write("\n".join(errors))
with tarfile.open(os.path.join(out, "refs.tar.gz"), "w:gz") as tar:
    tar.add(work, arcname="refs")
print("errors:", len(errors))
print("\n".join(errors)[-6000:])
