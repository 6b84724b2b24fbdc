"""attention_examples: the code of the executable book *Attention, step by step*.

One module per concept of the book; everything a page uses is importable from here.
Importing the package imports PyTorch and NumPy only: Matplotlib and SciPy are
imported by the functions that draw a figure or call SciPy.
"""

from __future__ import annotations

from .causal_attention import (
    CausalAttention,
    combine_masks,
    mask_after_softmax,
    mask_before_softmax,
)
from .devices import best_device
from .diagrams import (
    draw_kv_cache,
    draw_memory_hierarchy,
    draw_multihead_reshape,
    draw_projections,
    draw_tiling_grid,
)
from .fast_attention import FusedMultiHeadAttention, tiled_attention
from .grouped_attention import (
    MODEL_CONFIGS,
    GroupedQueryAttention,
    ModelConfig,
    grouped_attend,
    kv_cache_bytes,
    plot_ring_buffer,
    reachable,
)
from .journey import JOURNEY_TOKENS, journey_batch, journey_inputs
from .kv_cache import KVCache, decode_step, generate
from .learning import (
    IGNORE_INDEX,
    AttentionOnlyModel,
    TaskBatch,
    accuracy,
    attention_mass,
    plot_loss_curve,
    previous_token_task,
    repeated_sequence_task,
    train,
)
from .masking import MASK_FILL, apply_mask, causal_mask, padding_mask, sliding_window_mask
from .multihead_attention import MultiHeadAttention, MultiHeadAttentionWrapper
from .numpy_attention import numpy_attention, projection_weights, word_vectors
from .plotting import plot_attention_heatmap, plot_benchmark
from .positions import (
    CrossAttention,
    apply_rope,
    plot_position_encoding,
    plot_scores_by_distance,
    sinusoidal_positions,
)
from .self_attention import (
    SelfAttentionV1,
    SelfAttentionV2,
    scaled_dot_product_attention,
    transfer_weights,
)
from .simple_self_attention import (
    attention_scores,
    attention_scores_loop,
    context_vector_loop,
    dot_product_loop,
    scores_for_query_loop,
    self_attention_minimal,
    simple_self_attention,
)
from .softmax import large_scores, softmax, softmax_naive, softmax_stable
from .weighted_average import attention_once, weighted_average

__version__ = "0.1.0"

__all__ = [
    "IGNORE_INDEX",
    "JOURNEY_TOKENS",
    "MASK_FILL",
    "MODEL_CONFIGS",
    "AttentionOnlyModel",
    "CausalAttention",
    "CrossAttention",
    "FusedMultiHeadAttention",
    "GroupedQueryAttention",
    "KVCache",
    "ModelConfig",
    "MultiHeadAttention",
    "MultiHeadAttentionWrapper",
    "SelfAttentionV1",
    "SelfAttentionV2",
    "TaskBatch",
    "accuracy",
    "apply_mask",
    "apply_rope",
    "attention_mass",
    "attention_once",
    "attention_scores",
    "attention_scores_loop",
    "best_device",
    "causal_mask",
    "combine_masks",
    "context_vector_loop",
    "decode_step",
    "dot_product_loop",
    "draw_kv_cache",
    "draw_memory_hierarchy",
    "draw_multihead_reshape",
    "draw_projections",
    "draw_tiling_grid",
    "generate",
    "grouped_attend",
    "journey_batch",
    "journey_inputs",
    "kv_cache_bytes",
    "large_scores",
    "mask_after_softmax",
    "mask_before_softmax",
    "numpy_attention",
    "padding_mask",
    "plot_attention_heatmap",
    "plot_benchmark",
    "plot_loss_curve",
    "plot_position_encoding",
    "plot_ring_buffer",
    "plot_scores_by_distance",
    "previous_token_task",
    "projection_weights",
    "reachable",
    "repeated_sequence_task",
    "scaled_dot_product_attention",
    "scores_for_query_loop",
    "self_attention_minimal",
    "simple_self_attention",
    "sinusoidal_positions",
    "sliding_window_mask",
    "softmax",
    "softmax_naive",
    "softmax_stable",
    "tiled_attention",
    "train",
    "transfer_weights",
    "weighted_average",
    "word_vectors",
]
