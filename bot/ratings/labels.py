"""The words of the rating scale and of the five SIPAS elements (Decision 1001/QĐ-BNV)."""

from __future__ import annotations

from bot.i18n import N_
from storage.ratings import Level

# Best first, as the scale is read out on the paper form.
LEVELS = (Level.very_satisfied, Level.satisfied, Level.neutral, Level.dissatisfied,
          Level.very_dissatisfied)

LEVEL_LABELS = {
    Level.very_satisfied: N_("Very satisfied"),
    Level.satisfied: N_("Satisfied"),
    Level.neutral: N_("Neutral"),
    Level.dissatisfied: N_("Dissatisfied"),
    Level.very_dissatisfied: N_("Very dissatisfied"),
}

QUESTION_LABELS = {
    "overall": N_("Overall"),
    "access": N_("Access to the service"),
    "procedure": N_("The administrative procedure"),
    "staff": N_("The civil servant who handled it"),
    "result": N_("The result"),
    "feedback": N_("Handling of feedback and complaints"),
}

# What each element covers, so the citizen knows what is asked.
QUESTION_HINTS = {
    "access": N_("the place, its facilities and the information given"),
    "procedure": N_("how it is published, the documents asked for, the fees and the time "
                    "it takes"),
    "staff": N_("their attitude, guidance and skill"),
    "result": N_("correct, complete and on time"),
    "feedback": N_("how your suggestions and complaints are received and answered"),
}
