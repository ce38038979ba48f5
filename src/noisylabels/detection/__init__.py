"""Find mislabeled samples: one label-issue API (your scores, pred_probs or a run folder) and a
Recorder of training dynamics for any PyTorch loop."""
from .api import (detection_metrics, find_label_issues, label_quality_scores, load_run, rank_label_issues,
                  label_issues_dataframe, suggested_labels, write_label_issues_csv)
from .confident import (ConfidentEstimates, confident_learning_issues, estimate_latent, normalized_margin,
                        self_confidence)
from .recorder import Recorder
from .scores import (aum_score, classwise_loss_score, clean_probability_score, flag_per_class, forgetting_events,
                     forgetting_score, mean_confidence, mentor_weight_score, small_loss_score, variability)

__all__ = ["detection_metrics", "find_label_issues", "label_quality_scores", "load_run", "rank_label_issues",
           "suggested_labels", "write_label_issues_csv", "label_issues_dataframe", "ConfidentEstimates",
           "confident_learning_issues", "estimate_latent", "normalized_margin", "self_confidence", "Recorder", "aum_score", "classwise_loss_score",
           "clean_probability_score", "flag_per_class", "forgetting_events", "forgetting_score", "mean_confidence",
           "mentor_weight_score", "small_loss_score", "variability"]
