#!/usr/bin/env bash
# Sets everything up (scripts/bootstrap.sh) and runs the main job: ResNet-18-GN
# on scikit-learn's digits (made on first use) with Model Garden's trainer, on
# MirroredStrategy over 4 logical CPU replicas at 2 images per replica
# (train_and_eval), then exports the SavedModel and prints the validation
# accuracy and the export path. The terminal shows progress and results; Model
# Garden's full logs go to the run folder (train.log, export/export.log).
# MODEL_DIR=... picks the run folder (default: a new one under runs/); extra
# arguments go to the training script, e.g.
# --params_override=task.model.backbone.resnet_gn.norm=batch_norm, or
# --alsologtostderr to see the full log on the terminal too.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
model_dir=${MODEL_DIR:-runs/resnet_gn_digits_$(date +%Y%m%d-%H%M%S)}
python -m official.projects.group_norm.train --experiment=resnet_gn_digits \
  --mode=train_and_eval --model_dir="$model_dir" --cpu_replicas=4 --seed=0 "$@"
python -m official.projects.group_norm.export_saved_model \
  --experiment=resnet_gn_digits --config_file="$model_dir/params.yaml" \
  --checkpoint_path="$model_dir" --export_dir="$model_dir/export"
accuracy=$(python -c "import json, sys; print(f\"{json.load(open(sys.argv[1]))['accuracy']:.4f}\")" \
  "$model_dir/eval_metrics.json")
echo
echo "Main job done: Validation accuracy: $accuracy"
echo "SavedModel: $model_dir/export/saved_model (full logs: $model_dir/train.log, $model_dir/export/export.log)"
