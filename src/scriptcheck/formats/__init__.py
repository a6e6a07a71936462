"""Transcripts in and reports out: readers by format and encoding, validation, writers.

    readers.py   files and stdin -> `Record`s (JSON Lines, JSON, CSV; UTF-8/16, GB18030)
    validate.py  a transcript object -> `Transcript`, with located errors
    blocks.py    JSON Lines cut into blocks of whole lines for worker processes
    writers.py   reports -> table, json, jsonl, csv
"""

from .readers import RawTranscript, Record, read_records
from .validate import DEFAULT_SPEAKER_ALIASES, speaker_table, transcript_from_dict
from .writers import FORMATS, WRITERS, render

__all__ = [
    "DEFAULT_SPEAKER_ALIASES",
    "FORMATS",
    "RawTranscript",
    "Record",
    "WRITERS",
    "read_records",
    "render",
    "speaker_table",
    "transcript_from_dict",
]
