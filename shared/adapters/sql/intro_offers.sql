-- The intro flows (agents.md §12): intro offers members volunteer (nominations included, §2.5), intro
-- opportunities (a connector asked to introduce a prospect) and connection requests (a member asked whether
-- they want to meet someone). Every statement of a member's tool names the acting member: a row is only
-- ever read or changed by the member it is addressed to (or its requestor).

-- name: intro_offers_insert_nomination
-- A nomination: an intro_offers row with context_type 'nomination' and no bounty (agents.md §2.5).
INSERT INTO intro_offers (offering_user_id, prospect_name, prospect_company, prospect_title,
                          prospect_context, context_type, bounty_credits)
VALUES (%(user_id)s, %(prospect_name)s, %(prospect_company)s, %(prospect_title)s, %(prospect_context)s,
        'nomination', 0)
RETURNING id;

-- name: intro_offers_insert
-- offer_introduction (agents.md §12.4 step 1): the offering member volunteers an intro; it waits on the
-- introducee (a nomination, with no introducee yet, when it answers nobody's request).
INSERT INTO intro_offers (offering_user_id, introducee_user_id, prospect_name, prospect_company,
                          prospect_title, prospect_context, context_type, context_id, bounty_credits,
                          expires_at)
VALUES (%(user_id)s, %(introducee_user_id)s, %(prospect_name)s, %(prospect_company)s, %(prospect_title)s,
        %(prospect_context)s, %(context_type)s, %(context_id)s, 0, %(expires_at)s)
RETURNING id, status, expires_at;

-- name: intro_offers_of_member
-- One offer as the acting member sees it: only when they are its introducee or its offering member.
SELECT id, status, context_type, expires_at,
       CASE WHEN introducee_user_id = %(user_id)s THEN 'introducee' ELSE 'connector' END AS role
  FROM intro_offers
 WHERE id = %(offer_id)s AND (introducee_user_id = %(user_id)s OR offering_user_id = %(user_id)s);

-- name: intro_offers_introducee_respond
-- accept_intro_offer / decline_intro_offer (§12.4 steps 2-3): only the introducee, only while it waits on
-- them and has not expired. Accepting sets the bounty: the introducee's warm_intro_bounty when they are an
-- active innovator, else 0.
UPDATE intro_offers AS o
   SET status = %(status)s::varchar,
       introducee_response = %(response)s,
       introducee_accepted_at = CASE WHEN %(status)s::varchar = 'pending_connector_confirmation'
                                     THEN %(now)s ELSE o.introducee_accepted_at END,
       bounty_credits = CASE WHEN %(status)s::varchar = 'pending_connector_confirmation'
                             THEN coalesce((SELECT i.warm_intro_bounty FROM innovators AS i
                                             WHERE i.user_id = o.introducee_user_id AND i.active), 0)
                             ELSE o.bounty_credits END
 WHERE o.id = %(offer_id)s AND o.introducee_user_id = %(user_id)s
   AND o.status = 'pending_introducee_response' AND o.expires_at > %(now)s
RETURNING o.id, o.status, o.offering_user_id, o.introducee_user_id, o.bounty_credits, o.context_type,
          o.context_id;

-- name: intro_offers_connector_respond
-- confirm_intro_offer / decline as the connector (§12.4 steps 4-5): only the offering member, only after the
-- introducee accepted, before expiry.
UPDATE intro_offers
   SET status = %(status)s, connector_confirmation = %(response)s
 WHERE id = %(offer_id)s AND offering_user_id = %(user_id)s
   AND status = 'pending_connector_confirmation' AND expires_at > %(now)s
RETURNING id, status, offering_user_id, introducee_user_id, bounty_credits, context_type, context_id;

-- name: intro_opportunities_of_member
-- One intro opportunity, only when the acting member is its connector.
SELECT id, status, expires_at
  FROM intro_opportunities
 WHERE id = %(opportunity_id)s AND connector_user_id = %(user_id)s;

-- name: intro_opportunities_respond
-- accept_intro_opportunity / decline_intro_opportunity (§12.2): the connector's answer while it is open.
UPDATE intro_opportunities
   SET status = %(status)s, connector_response = %(response)s
 WHERE id = %(opportunity_id)s AND connector_user_id = %(user_id)s
   AND status IN ('open', 'presented', 'clarifying')
   AND (expires_at IS NULL OR expires_at > %(now)s)
RETURNING id, status, connector_user_id, innovator_id, prospect_id, bounty_credits;

-- name: connection_requests_of_member
-- One connection request, only when the acting member is its introducee.
SELECT id, status, expires_at
  FROM connection_requests
 WHERE id = %(request_id)s AND introducee_user_id = %(user_id)s;

-- name: connection_requests_respond
-- accept_connection_request / decline_connection_request (§12.3): the introducee's answer while it is open.
UPDATE connection_requests
   SET status = %(status)s, introducee_response = %(response)s
 WHERE id = %(request_id)s AND introducee_user_id = %(user_id)s
   AND status IN ('open', 'presented', 'clarifying')
   AND expires_at > %(now)s
RETURNING id, status, introducee_user_id, requestor_user_id, requestor_prospect_id, bounty_credits;

-- name: connection_requests_requestor_of
-- Who asked for a connection request the acting member is the introducee of (an intro offer in answer to it).
SELECT requestor_user_id
  FROM connection_requests
 WHERE id = %(request_id)s AND introducee_user_id = %(user_id)s
   AND status IN ('open', 'presented', 'clarifying');

-- name: connection_requests_insert
-- request_connection (agents.md §5 tool 5): the acting member (an innovator) asks to meet another verified,
-- reachable member; their own name, company and title are the requestor's. Nothing when the target is not
-- such a member, is themselves, or already has an open request from them.
INSERT INTO connection_requests (introducee_user_id, requestor_user_id, requestor_name, requestor_company,
                                 requestor_title, requestor_linkedin_url, intro_context, bounty_credits,
                                 expires_at)
SELECT target.id, me.id, coalesce(nullif(concat_ws(' ', me.first_name, me.last_name), ''), 'A member'),
       me.company, me.title, me.linkedin_url, %(intro_context)s, %(bounty_credits)s, %(expires_at)s
  FROM users AS me
  JOIN users AS target ON target.id = %(target_user_id)s
 WHERE me.id = %(user_id)s
   AND target.id <> me.id AND target.verified AND NOT target.opted_out
   AND NOT EXISTS (SELECT 1 FROM connection_requests AS c
                    WHERE c.requestor_user_id = me.id AND c.introducee_user_id = target.id
                      AND c.status IN ('open', 'presented', 'clarifying', 'accepted'))
RETURNING id, status, expires_at;

-- name: connection_requests_open_between
-- The acting member's open connection request to one member, if any (request_connection twice).
SELECT id, status
  FROM connection_requests
 WHERE requestor_user_id = %(user_id)s AND introducee_user_id = %(target_user_id)s
   AND status IN ('open', 'presented', 'clarifying', 'accepted');

-- name: community_requests_routed_to_member
-- A community request that reached the acting member as an expert (routed to them, asked of them, or on
-- their priorities) and is still open, with who asked it: the introducee of an intro offer made in answer
-- to it, and the request an expert's answer is recorded against. Never the member's own request.
SELECT r.id, r.requesting_user_id, r.status
  FROM community_requests AS r
 WHERE r.id = %(request_id)s
   AND r.requesting_user_id IS DISTINCT FROM %(user_id)s
   AND r.status IN ('open', 'presented', 'clarifying', 'responses_received')
   AND (r.target_user_ids @> ARRAY[%(user_id)s::uuid]
        OR EXISTS (SELECT 1 FROM community_request_experts AS e
                    WHERE e.request_id = r.id AND e.expert_user_id = %(user_id)s)
        OR EXISTS (SELECT 1 FROM user_priorities AS p
                    WHERE p.user_id = %(user_id)s AND p.item_type = 'community_request' AND p.item_id = r.id));

-- --- The intro services (issue 12): locks, sibling pause/cancel, completion, expiry, reminders ------------

-- name: intro_opportunities_lock_prospect
-- Before a connector's answer: lock every opportunity for the same prospect and innovator, in id order, so two
-- connectors accepting at once take turns (the second then finds its own row paused) and never deadlock.
SELECT o.id
  FROM intro_opportunities AS o
  JOIN intro_opportunities AS mine ON mine.id = %(opportunity_id)s AND mine.connector_user_id = %(user_id)s
 WHERE o.id = mine.id
    OR (mine.prospect_id IS NOT NULL AND o.prospect_id = mine.prospect_id
        AND o.innovator_id IS NOT DISTINCT FROM mine.innovator_id)
 ORDER BY o.id
   FOR UPDATE OF o;

-- name: intro_opportunities_pause_siblings
-- agents.md §12.2: a connector accepted; the other connectors' open opportunities for the prospect pause.
UPDATE intro_opportunities AS o
   SET status = 'paused'
  FROM intro_opportunities AS mine
 WHERE mine.id = %(opportunity_id)s AND mine.prospect_id IS NOT NULL
   AND o.prospect_id = mine.prospect_id AND o.innovator_id IS NOT DISTINCT FROM mine.innovator_id
   AND o.id <> mine.id AND o.status IN ('open', 'presented', 'clarifying')
RETURNING o.id, o.connector_user_id, o.innovator_id;

-- name: intro_opportunities_cancel_siblings
-- agents.md §12.2: a connector's intro completed; the paused (or still open) siblings are cancelled.
UPDATE intro_opportunities AS o
   SET status = 'cancelled'
  FROM intro_opportunities AS mine
 WHERE mine.id = %(opportunity_id)s AND mine.prospect_id IS NOT NULL
   AND o.prospect_id = mine.prospect_id AND o.innovator_id IS NOT DISTINCT FROM mine.innovator_id
   AND o.id <> mine.id AND o.status IN ('open', 'presented', 'clarifying', 'paused')
RETURNING o.id, o.connector_user_id, o.innovator_id;

-- name: intro_opportunities_complete
-- decisions B20: the accepted opportunity is completed when its connector or innovator says they met.
UPDATE intro_opportunities
   SET status = 'completed', intro_completed_at = %(now)s
 WHERE id = %(opportunity_id)s AND status = 'accepted'
   AND (connector_user_id = %(user_id)s OR innovator_id = %(user_id)s)
RETURNING id, status, connector_user_id, innovator_id, prospect_id, bounty_credits;

-- name: intro_opportunities_not_met
-- decisions B20: "no, we didn't meet" from the connector or the innovator: the accepted opportunity is cancelled
-- with the reason (guarded like completion, so a second answer changes nothing).
UPDATE intro_opportunities
   SET status = 'cancelled', not_met_reason = %(reason)s, not_met_at = %(now)s, not_met_reported_by = %(user_id)s
 WHERE id = %(opportunity_id)s AND status = 'accepted'
   AND (connector_user_id = %(user_id)s OR innovator_id = %(user_id)s)
RETURNING id, status, connector_user_id, innovator_id, prospect_id, bounty_credits;

-- name: intro_opportunities_release_siblings
-- The accepted opportunity did not happen: the siblings it paused (agents.md §12.2) are open again.
UPDATE intro_opportunities AS o
   SET status = 'open'
  FROM intro_opportunities AS mine
 WHERE mine.id = %(opportunity_id)s AND mine.prospect_id IS NOT NULL
   AND o.prospect_id = mine.prospect_id AND o.innovator_id IS NOT DISTINCT FROM mine.innovator_id
   AND o.id <> mine.id AND o.status = 'paused'
RETURNING o.id, o.connector_user_id, o.innovator_id;

-- name: intro_opportunities_set_talking_points
-- The Intro agent's talking points for the connector (agents.md §10); once: a redelivery keeps the first.
UPDATE intro_opportunities
   SET talking_points = %(talking_points)s
 WHERE id = %(opportunity_id)s AND talking_points IS NULL
RETURNING id, connector_user_id, innovator_id;

-- name: intro_opportunities_for_talking_points
-- An opportunity with what its talking points are written from: the prospect, the innovator and its solution.
SELECT o.id, o.connector_user_id, o.innovator_id, o.first_name, o.last_name, o.prospect_company,
       o.prospect_title, o.innovator_name, o.intro_context, o.bounty_credits, o.talking_points, o.status,
       i.company_name AS innovator_company, i.solution_description
  FROM intro_opportunities AS o
  LEFT JOIN innovators AS i ON i.user_id = o.innovator_id
 WHERE o.id = %(opportunity_id)s;

-- name: intro_opportunities_expire
-- The expiry job: open opportunities past expires_at move to expired (a batch, oldest first).
UPDATE intro_opportunities
   SET status = 'expired'
 WHERE id IN (SELECT id FROM intro_opportunities
               WHERE status IN ('open', 'presented', 'clarifying') AND expires_at <= %(now)s
               ORDER BY expires_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
RETURNING id, status, connector_user_id, innovator_id;

-- name: intro_offers_complete
-- decisions B20: a confirmed offer is completed when its connector or its introducee says they met.
UPDATE intro_offers
   SET status = 'completed', intro_completed_at = %(now)s
 WHERE id = %(offer_id)s AND status = 'confirmed'
   AND (offering_user_id = %(user_id)s OR introducee_user_id = %(user_id)s)
RETURNING id, status, offering_user_id, introducee_user_id, bounty_credits, context_type, context_id;

-- name: intro_offers_not_met
-- decisions B20: "no, we didn't meet" from either side of a confirmed offer: cancelled, with the reason.
UPDATE intro_offers
   SET status = 'cancelled', not_met_reason = %(reason)s, not_met_at = %(now)s, not_met_reported_by = %(user_id)s
 WHERE id = %(offer_id)s AND status = 'confirmed'
   AND (offering_user_id = %(user_id)s OR introducee_user_id = %(user_id)s)
RETURNING id, status, offering_user_id, introducee_user_id, bounty_credits, context_type, context_id;

-- name: intro_offers_expire
-- The expiry job: offers still waiting on either side past expires_at move to expired (§12.4 step 7).
UPDATE intro_offers
   SET status = 'expired'
 WHERE id IN (SELECT id FROM intro_offers
               WHERE status IN ('pending_introducee_response', 'pending_connector_confirmation')
                 AND expires_at <= %(now)s
               ORDER BY expires_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
RETURNING id, status, offering_user_id, introducee_user_id;

-- name: intro_offers_claim_reminders
-- The reminder job (§12.4 step 3): offers the introducee accepted at least 3 days ago that the connector has
-- not confirmed, not expired and not reminded yet; marked reminded in the same statement (once only).
UPDATE intro_offers
   SET reminded_at = %(now)s
 WHERE id IN (SELECT id FROM intro_offers
               WHERE status = 'pending_connector_confirmation' AND reminded_at IS NULL
                 AND introducee_accepted_at <= %(accepted_before)s AND expires_at > %(now)s
               ORDER BY introducee_accepted_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
RETURNING id, status, offering_user_id, introducee_user_id, prospect_name;

-- name: connection_requests_complete
-- decisions B20: an accepted request is completed when its introducee or its requestor says they met.
UPDATE connection_requests
   SET status = 'completed', intro_completed_at = %(now)s
 WHERE id = %(request_id)s AND status = 'accepted'
   AND (introducee_user_id = %(user_id)s OR requestor_user_id = %(user_id)s)
RETURNING id, status, introducee_user_id, requestor_user_id, requestor_prospect_id, bounty_credits;

-- name: connection_requests_not_met
-- decisions B20: "no, we didn't meet" from either side of an accepted request: cancelled, with the reason.
UPDATE connection_requests
   SET status = 'cancelled', not_met_reason = %(reason)s, not_met_at = %(now)s, not_met_reported_by = %(user_id)s
 WHERE id = %(request_id)s AND status = 'accepted'
   AND (introducee_user_id = %(user_id)s OR requestor_user_id = %(user_id)s)
RETURNING id, status, introducee_user_id, requestor_user_id, requestor_prospect_id, bounty_credits;

-- name: connection_requests_expire
-- The expiry job: requests with no answer 30 days on move to expired (§12.3).
UPDATE connection_requests
   SET status = 'expired'
 WHERE id IN (SELECT id FROM connection_requests
               WHERE status IN ('open', 'presented', 'clarifying') AND expires_at <= %(now)s
               ORDER BY expires_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
RETURNING id, status, introducee_user_id, requestor_user_id;

-- name: intro_offers_prospect
-- Who an intro offer's connector offered to introduce (the +7-day check-in names them).
SELECT prospect_name FROM intro_offers WHERE id = %(offer_id)s;

-- name: intro_member_cards
-- decisions B17: what each side of an introduction gets once both have accepted: name, company and the
-- email they verified (never a phone number). Only verified members with a verified email.
SELECT id, first_name, last_name, company, title, CASE WHEN email_verified THEN email END AS email
  FROM users
 WHERE id = ANY(%(user_ids)s::uuid[]);

-- name: intro_offers_awaiting_outcome
-- The acting member's latest introduction both sides accepted that has no outcome yet (decisions B20): what
-- their "yes, we met" answers. Across the three flows; the member is one of its sides.
SELECT kind, id, status FROM (
  SELECT 'intro_opportunity' AS kind, id, status, updated_at FROM intro_opportunities
   WHERE status = 'accepted' AND (connector_user_id = %(user_id)s OR innovator_id = %(user_id)s)
  UNION ALL
  SELECT 'intro_offer', id, status, updated_at FROM intro_offers
   WHERE status = 'confirmed' AND (offering_user_id = %(user_id)s OR introducee_user_id = %(user_id)s)
  UNION ALL
  SELECT 'connection_request', id, status, updated_at FROM connection_requests
   WHERE status = 'accepted' AND (introducee_user_id = %(user_id)s OR requestor_user_id = %(user_id)s)
) AS waiting
ORDER BY updated_at DESC, id
LIMIT 1;

-- --- Prospect matching and upgrade (agents.md §14, §2.8): kept with the intro flows they feed -------------

-- name: prospects_match_candidates
-- Pending prospects that could be this member: any exact contact, the same last name, or the same email
-- domain. Scored in code (shared.domain.prospect_matching); this only narrows the rows.
SELECT p.id, p.innovator_id, p.email, p.phone_number, p.linkedin_url, p.first_name, p.last_name, p.company
  FROM prospects AS p, users AS u
 WHERE u.id = %(user_id)s AND p.status = 'pending' AND p.innovator_id <> u.id
   AND (lower(p.email) = lower(u.email)
        OR p.phone_number = u.phone_number
        OR (u.linkedin_url IS NOT NULL AND rtrim(lower(p.linkedin_url), '/') = rtrim(lower(u.linkedin_url), '/'))
        OR lower(btrim(p.last_name)) = lower(btrim(u.last_name))
        OR (u.email IS NOT NULL AND lower(split_part(p.email, '@', 2)) = lower(split_part(u.email, '@', 2))))
 ORDER BY p.uploaded_at, p.id
 LIMIT 200;

-- name: prospects_convert
-- Upgrade (§14 step 1): the prospect becomes the member; only from pending, so a second run converts nothing.
UPDATE prospects
   SET status = 'converted', converted_to_user_id = %(user_id)s, converted_at = %(now)s
 WHERE id = %(prospect_id)s AND status = 'pending'
RETURNING id, innovator_id;

-- name: prospects_flag_for_review
-- A 40-69 match (§14): kept pending, with the member, the score and the fields in metadata.review, for
-- an operator (ops prospects review).
UPDATE prospects
   SET metadata = coalesce(metadata, '{}'::jsonb) || jsonb_build_object('review', %(review)s::jsonb)
 WHERE id = %(prospect_id)s AND status = 'pending'
RETURNING id;

-- name: prospects_review_list
-- The operator's review list: pending prospects with a 40-69 match waiting, newest first.
SELECT p.id, p.first_name, p.last_name, p.company, p.email, p.innovator_id, p.metadata -> 'review' AS review
  FROM prospects AS p
 WHERE p.status = 'pending' AND p.metadata ? 'review'
 ORDER BY p.updated_at DESC
 LIMIT %(limit)s;

-- --- Social Butterfly (agents.md §11): mutual connections -> intro opportunities ----------------------------

-- name: prospects_for_research
-- A prospect an innovator uploaded, with the innovator's own LinkedIn URL (the other end of "mutual").
SELECT p.id, p.innovator_id, p.first_name, p.last_name, p.company, p.title, p.email, p.linkedin_url,
       u.linkedin_url AS innovator_linkedin_url,
       coalesce(i.company_name, nullif(concat_ws(' ', u.first_name, u.last_name), '')) AS innovator_name
  FROM prospects AS p
  JOIN users AS u ON u.id = p.innovator_id
  LEFT JOIN innovators AS i ON i.user_id = p.innovator_id
 WHERE p.id = %(prospect_id)s AND p.innovator_id = %(innovator_id)s AND p.status <> 'deleted';

-- name: linkedin_research_prospects_record
-- Store what the research found on the prospect's research row (one per LinkedIn URL), adding the innovator
-- to users_researching.
WITH updated AS (
  UPDATE linkedin_research_prospects
     SET mutual_connections = %(mutual_connections)s::jsonb, last_researched_at = %(now)s,
         users_researching = ARRAY(SELECT DISTINCT unnest(users_researching || ARRAY[%(innovator_id)s::uuid]))
   WHERE linkedin_url = %(linkedin_url)s
  RETURNING id
)
INSERT INTO linkedin_research_prospects (name, company, title, linkedin_url, email, mutual_connections,
                                         last_researched_at, users_researching)
SELECT %(prospect_name)s, %(company)s, %(title)s, %(linkedin_url)s, %(email)s, %(mutual_connections)s::jsonb, %(now)s,
       ARRAY[%(innovator_id)s::uuid]
 WHERE NOT EXISTS (SELECT 1 FROM updated)
RETURNING id;

-- name: intro_opportunities_members_by_linkedin
-- Verified, reachable members whose LinkedIn URL is one of these (compared lower-case, without a trailing
-- slash or the scheme and www): the connectors of the mutual connections.
SELECT id, linkedin_url
  FROM users
 WHERE verified AND NOT opted_out AND linkedin_url IS NOT NULL
   AND regexp_replace(rtrim(lower(linkedin_url), '/'), '^https?://(www\.)?', '') = ANY(%(urls)s::text[]);

-- name: intro_opportunities_insert_for_prospect
-- agents.md §11 step 4: an open opportunity for a member who knows the prospect (bounty 50); once per
-- connector, prospect and innovator (a redelivery inserts nothing).
INSERT INTO intro_opportunities (connector_user_id, innovator_id, prospect_id, first_name, last_name,
                                 prospect_company, prospect_title, prospect_linkedin_url, innovator_name,
                                 intro_context, bounty_credits, connection_strength, expires_at)
VALUES (%(connector_user_id)s, %(innovator_id)s, %(prospect_id)s, %(first_name)s, %(last_name)s, %(company)s,
        %(title)s, %(linkedin_url)s, %(innovator_name)s, %(intro_context)s, %(bounty_credits)s, 'first_degree',
        %(expires_at)s)
ON CONFLICT (connector_user_id, prospect_id, innovator_id) WHERE prospect_id IS NOT NULL DO NOTHING
RETURNING id;
