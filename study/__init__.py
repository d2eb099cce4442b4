"""Studies: the original study's table and every experiment as one resumable, parallel command.

    python cli.py study run seed-table --out results/seed-table --budget cpu --jobs 2
    python cli.py study status results/seed-table
    python cli.py study report results/seed-table --results docs/RESULTS.md

From Python: ``run_study(...)``, ``study_status(...)``, ``study_report(...)`` and ``list_studies()`` return data.
"""
from study.api import list_studies, run_study, study_report, study_status
from study.spec import load_study

__all__ = ["list_studies", "load_study", "run_study", "study_report", "study_status"]
