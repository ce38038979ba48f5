"""Pure tensor functions that any PyTorch loop can use."""
from .aum import aum_flags, aum_threshold, assign_threshold_samples, combine_runs, threshold_labels
from .gmm import GMM1D, gmm_1d
from .margin import logit_margin
from .mentor import LossMovingAverage, mentor_mix, threshold_mentor
from .noise_rates import (class_weighted_rate, estimate_noise_rates, global_noise_rate, gmm_noise_rates,
                          prediction_noise_rates)
from .selection import (RSL_KAPPA, classwise_minmax, classwise_select, forget_rate_schedule, masked_mean, rsl_keep_counts, rsl_weights,
                        select_within, small_loss_mask, window_mean)

__all__ = ["aum_flags", "aum_threshold", "assign_threshold_samples", "combine_runs", "threshold_labels",
           "GMM1D", "gmm_1d", "logit_margin", "LossMovingAverage", "mentor_mix", "threshold_mentor",
           "class_weighted_rate", "estimate_noise_rates", "global_noise_rate", "gmm_noise_rates",
           "prediction_noise_rates",
           "RSL_KAPPA", "classwise_minmax", "classwise_select", "forget_rate_schedule", "rsl_keep_counts", "rsl_weights",
           "small_loss_mask", "window_mean", "masked_mean", "select_within"]
