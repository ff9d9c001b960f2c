-- The message that shows each approval request (its "card") on its chat platform, as the
-- platform's adapter describes it (JSON: channel, message id, body), so every step can edit it
-- from any replica and after a restart.
CREATE TABLE cards (
    card_key TEXT PRIMARY KEY,
    message  TEXT NOT NULL
);
