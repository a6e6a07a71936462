"""The learned second stage: classifiers that catch what no phrase list spells out.

    features.py  the n-grams and marks an utterance is read as (shared by training and inference)
    model.py     a model file -> heads per speaker, scored with an automaton; evidence, nearest examples
    train.py     `scriptcheck model train`: labelled utterances and transcripts -> a model file (scikit-learn)
    bundled/     the model shipped in the wheel, trained on corpus/train and corpus/dev
"""

from .model import Model, ModelError, Prediction, bundled_model_text, load_model_text, parse_model, read_model_text

__all__ = ["Model", "ModelError", "Prediction", "bundled_model_text", "load_model_text", "parse_model", "read_model_text"]
