"""JSON Schemas for Laurel's OpenAPI document: request bodies and the main responses.

Routes parse bodies with the command contract's own validators (one set of rules for HTTP and
for records written to the topic), so FastAPI cannot derive these; they are written out here.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

KEY_PATTERN = r"^[a-zA-Z\d\-_]+$"
STRING_MAP: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
NAME: Schema = {"type": "string", "minLength": 1, "maxLength": 255}
KEY: Schema = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN}
UUID: Schema = {"type": "string", "format": "uuid"}
ERROR: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}

UPDATED_USER: Schema = {
    "type": "object",
    "properties": {
        "name": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]},
        "tz": {"type": ["string", "null"], "description": "An IANA time zone name"},
        "deviceTokens": {"type": ["array", "null"], "items": {"type": "string"}},
        "subscribeToEmails": {"type": "boolean"},
        "signUpDate": {"type": ["string", "null"], "format": "date"},
        "attributes": STRING_MAP,
    },
}
UPSERTED_USER: Schema = {
    **UPDATED_USER,
    "required": ["id"],
    "properties": {**UPDATED_USER["properties"], "id": NAME},
}
METRIC_EVENT: Schema = {
    "type": "object",
    "required": ["user", "value"],
    "properties": {"user": UPSERTED_USER, "value": {"type": "number"}, "attributes": STRING_MAP},
}


def array_of(item: Schema, most: int = 100) -> Schema:
    """An array of 1 to ``most`` ``item`` schemas."""
    return {"type": "array", "minItems": 1, "maxItems": most, "items": item}


BATCH_EVENTS = array_of(
    {
        "type": "object",
        "required": ["key", "user", "value"],
        "properties": {
            "key": NAME,
            "user": UPSERTED_USER,
            "value": {"type": "number"},
            "attributes": STRING_MAP,
            "idempotencyKey": NAME,
        },
    },
    1000,
)
UNIT_TYPE: Schema = {"type": "string", "enum": ["number", "currency"]}
CREATE_METRICS = array_of(
    {
        "type": "object",
        "required": ["name", "key"],
        "properties": {"name": NAME, "key": KEY, "unitType": UNIT_TYPE, "units": NAME},
    }
)
UPDATE_METRICS = array_of(
    {
        "type": "object",
        "required": ["id"],
        "properties": {"id": UUID, "name": NAME, "unitType": UNIT_TYPE, "units": NAME},
    }
)
ATTRIBUTE_TYPE: Schema = {"type": "string", "enum": ["user", "event"]}
CREATE_ATTRIBUTES = array_of(
    {
        "type": "object",
        "required": ["name", "key", "type"],
        "properties": {"name": NAME, "key": KEY, "type": ATTRIBUTE_TYPE},
    }
)
UPDATE_ATTRIBUTES = array_of(
    {"type": "object", "required": ["id"], "properties": {"id": UUID, "name": NAME}}
)
CREATE_TENANTS = array_of(
    {
        "type": "object",
        "required": ["customerId", "name"],
        "properties": {"customerId": NAME, "name": NAME},
    }
)
UPDATE_TENANTS = array_of(
    {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": UUID,
            "name": NAME,
            "status": {"type": "string", "enum": ["active", "archived"]},
        },
    }
)
CREATE_APPLICATION_KEYS = array_of(
    {"type": "object", "required": ["userId"], "properties": {"userId": NAME}}
)

USER: Schema = {
    "type": "object",
    "required": ["id", "subscribeToEmails", "attributes", "control", "created", "updated"],
    "properties": {
        **UPDATED_USER["properties"],
        "id": {"type": "string"},
        "control": {"type": "boolean"},
        "created": {"type": "string", "format": "date-time"},
        "updated": {"type": "string", "format": "date-time"},
    },
}
EVENT_RESPONSE: Schema = {
    "type": "object",
    "required": [
        "eventId",
        "metricId",
        "total",
        "achievements",
        "currentStreak",
        "points",
        "leaderboards",
    ],
    "properties": {
        "eventId": UUID,
        "metricId": UUID,
        "total": {"type": "number"},
        "achievements": {"type": "array"},
        "currentStreak": {"type": "object", "required": ["length", "frequency", "extended"]},
        "points": {"type": "object"},
        "leaderboards": {"type": "object"},
        "idempotencyKey": {"type": "string"},
        "idempotentReplayed": {"type": "boolean"},
    },
}
PENDING: Schema = {
    "type": "object",
    "required": ["eventId", "status", "outcome"],
    "properties": {
        "eventId": UUID,
        "status": {"const": "pending"},
        "outcome": {"type": "string"},
    },
}
METRIC: Schema = {
    "type": "object",
    "required": ["id", "key", "name", "status", "current", "achievements"],
    "properties": {
        "id": UUID,
        "key": {"type": "string"},
        "name": {"type": "string"},
        "status": {"enum": ["active", "archived"]},
        "current": {"type": "number"},
        "achievements": {"type": "array"},
    },
}
SUMMARY: Schema = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["date", "total", "change"],
        "properties": {
            "date": {"type": "string", "format": "date"},
            "total": {"type": "number"},
            "change": {"type": "number"},
        },
    },
}

DATE: Schema = {"type": "string", "format": "date"}
NULLABLE_DATE: Schema = {"type": ["string", "null"], "format": "date"}
STREAK_METRICS: Schema = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["key", "threshold"],
        "properties": {"key": {"type": "string"}, "threshold": {"type": "number"}},
    },
}
WEEKDAYS: Schema = {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 6}}
STREAK: Schema = {
    "type": "object",
    "required": ["length", "frequency", "started", "periodStart", "periodEnd", "expires"],
    "properties": {
        "length": {"type": "integer"},
        "frequency": {"enum": ["daily", "weekly", "monthly"]},
        "started": NULLABLE_DATE,
        "periodStart": NULLABLE_DATE,
        "periodEnd": NULLABLE_DATE,
        "expires": NULLABLE_DATE,
        "freezes": {"type": "integer"},
        "maxFreezes": {"type": "integer"},
        "freezeAutoEarnInterval": {"type": "integer"},
        "freezeAutoEarnAmount": {"type": "integer"},
    },
}
STREAK_RESPONSE: Schema = {
    **STREAK,
    "required": [*STREAK["required"], "extended", "streakHistory", "pauses"],
    "properties": {
        **STREAK["properties"],
        "extended": {"type": ["string", "null"], "format": "date-time"},
        "streakHistory": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["periodStart", "periodEnd", "length", "usedPause"],
                "properties": {
                    "periodStart": DATE,
                    "periodEnd": DATE,
                    "length": {"type": "integer"},
                    "usedFreeze": {"type": "boolean"},
                    "usedPause": {"type": "boolean"},
                    "resetAt": {"type": "string", "format": "date-time"},
                },
            },
        },
        "pauses": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "start", "end"],
                "properties": {"id": UUID, "start": DATE, "end": DATE},
            },
        },
    },
}
BULK_STREAKS: Schema = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["userId", "streakLength", "extended"],
        "properties": {
            "userId": {"type": "string"},
            "streakLength": {"type": "integer"},
            "extended": {"type": ["string", "null"]},
        },
    },
}
CHANNELS: Schema = {"type": "array", "items": {"enum": ["email", "push"]}}
STREAK_PREFERENCES: Schema = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean"},
        "evaluationMode": {"enum": ["AND", "OR"]},
        "metrics": STREAK_METRICS,
        "daysOff": WEEKDAYS,
    },
}
PREFERENCES_UPDATE: Schema = {
    "type": "object",
    "properties": {
        "notifications": {
            "type": "object",
            "properties": {
                kind: CHANNELS
                for kind in ("achievement_completed", "recap", "reactivation", "streak_reminder")
            },
        },
        "streak": STREAK_PREFERENCES,
    },
}
PREFERENCES: Schema = {**PREFERENCES_UPDATE, "required": ["notifications"]}
FREEZE_POLICY: Schema = {
    "type": ["object", "null"],
    "required": ["startCount", "maxCount"],
    "properties": {
        "startCount": {"type": "integer", "minimum": 0, "maximum": 100},
        "maxCount": {"type": "integer", "minimum": 0, "maximum": 100},
        "autoEarnInterval": {"type": ["integer", "null"], "minimum": 1},
        "autoEarnAmount": {"type": ["integer", "null"], "minimum": 1},
    },
}
STREAK_SETTINGS_UPDATE: Schema = {
    "type": "object",
    "properties": {
        "frequency": {"enum": ["daily", "weekly", "monthly"]},
        "evaluationMode": {"enum": ["AND", "OR"]},
        "customizationEnabled": {"type": "boolean"},
        "daysOff": WEEKDAYS,
        "metrics": STREAK_METRICS,
        "freezes": FREEZE_POLICY,
        "weekStart": {"type": "integer", "minimum": 0, "maximum": 6},
    },
}
STREAK_SETTINGS: Schema = {
    **STREAK_SETTINGS_UPDATE,
    "required": [
        "frequency",
        "evaluationMode",
        "customizationEnabled",
        "daysOff",
        "metrics",
        "freezes",
        "weekStart",
    ],
}
ISSUES: Schema = {"type": "array", "items": {"type": "object", "required": ["severity", "message"]}}


def users_request(field: str, item: Schema) -> Schema:
    """An admin streak request: ``{field: [item, …]}`` with 1 to 100 items."""
    return {"type": "object", "required": [field], "properties": {field: array_of(item)}}


USER_ID_ITEM: Schema = {"type": "object", "required": ["userId"], "properties": {"userId": NAME}}
FREEZES_REQUEST = users_request("freezes", USER_ID_ITEM)
PAUSES_REQUEST = users_request(
    "pauses",
    {
        "type": "object",
        "required": ["userId", "start", "end"],
        "properties": {"userId": NAME, "start": DATE, "end": DATE},
    },
)
USERS_REQUEST = users_request(
    "users", {"type": "object", "required": ["id"], "properties": {"id": NAME}}
)

OBJECT: Schema = {"type": "object"}
ARRAY: Schema = {"type": "array"}
ACHIEVEMENTS: Schema = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["id", "name", "trigger", "completions", "rarity"],
        "properties": {
            "id": UUID,
            "name": {"type": "string"},
            "trigger": {"enum": ["metric", "streak", "api", "achievement", "anniversary"]},
            "completions": {"type": "integer"},
            "rarity": {"type": "number"},
        },
    },
}
COMPLETE_ACHIEVEMENT: Schema = {
    "type": "object",
    "required": ["user"],
    "properties": {"user": UPSERTED_USER},
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/json": {"schema": ERROR}}}
    for status, text in {
        400: "Malformed request",
        401: "Missing or invalid API key",
        403: "Key used outside its scope",
        404: "Not found",
        409: "Conflict",
        413: "Body too large",
        422: "Validation failed",
        429: "Rate limited",
        503: "Kafka or PostgreSQL unavailable; retry",
    }.items()
}


def body(schema: Schema) -> dict[str, Any]:
    """``openapi_extra`` declaring a required JSON request body."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def returns(status: int, schema: Schema, description: str = "Success") -> dict[int | str, Any]:
    """``responses`` declaring a JSON response."""
    return {
        status: {"description": description, "content": {"application/json": {"schema": schema}}}
    }
