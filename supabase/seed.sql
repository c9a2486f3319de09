-- Demo data for the local stack (`python -m tools.localstack.migrate --seed`, `supabase db reset`).
-- Fictitious people on +1415555xxxx numbers. Idempotent: applying it twice changes nothing.
-- No secrets, and no app_settings rows: locally there is no pg_net, the NOTIFY relay makes the webhook calls.

INSERT INTO public.users (
  id, phone_number, email, email_verified, first_name, last_name, company, title, linkedin_url,
  verified, innovator, expert_connector, expertise, poc_agent_type, timezone,
  approval_status, onboarding_completed_at
) VALUES
  -- the referrer who brought the others in
  ('00000000-0000-4000-8000-000000000001', '+14155550100', 'maya.chen@example.com', true,
   'Maya', 'Chen', 'Harbor Ventures', 'Managing Partner', 'https://www.linkedin.com/in/example-maya-chen',
   true, false, true, ARRAY['venture capital', 'fundraising', 'board governance'], 'concierge',
   'America/Los_Angeles', 'approved', now()),
  ('00000000-0000-4000-8000-000000000002', '+14155550101', 'dev.patel@example.com', true,
   'Dev', 'Patel', 'Northwind Retail', 'VP Engineering', 'https://www.linkedin.com/in/example-dev-patel',
   true, false, true, ARRAY['data engineering', 'cloud infrastructure', 'hiring engineers'], 'concierge',
   'America/New_York', 'approved', now()),
  ('00000000-0000-4000-8000-000000000003', '+14155550102', 'sofia.alvarez@example.com', true,
   'Sofia', 'Alvarez', 'Bluefin Health', 'Chief Marketing Officer', 'https://www.linkedin.com/in/example-sofia-alvarez',
   true, false, false, ARRAY['marketing', 'crm', 'brand strategy'], 'concierge',
   'America/Chicago', 'approved', now()),
  -- an innovator (users row + innovators row below)
  ('00000000-0000-4000-8000-000000000004', '+14155550103', 'sam.okafor@example.com', true,
   'Sam', 'Okafor', 'LedgerLoop', 'CEO & Co-founder', 'https://www.linkedin.com/in/example-sam-okafor',
   true, true, false, ARRAY['fintech', 'accounts payable automation'], 'innovator',
   'America/New_York', 'approved', now()),
  -- a second expert on fundraising and hiring, so a community question reaches two people
  -- (Maya and Priya on fundraising, Dev and Priya on hiring engineers; agents.md §7)
  ('00000000-0000-4000-8000-000000000005', '+14155550104', 'priya.nair@example.com', true,
   'Priya', 'Nair', 'Keel Analytics', 'CFO', 'https://www.linkedin.com/in/example-priya-nair',
   true, false, true, ARRAY['fundraising', 'hiring engineers', 'finance operations'], 'concierge',
   'America/Chicago', 'approved', now()),
  -- a security expert, for vendor questions the Solution Saga puts to the network (SOC 2)
  ('00000000-0000-4000-8000-000000000006', '+14155550105', 'grace.liu@example.com', true,
   'Grace', 'Liu', 'Meridian Payments', 'CISO', 'https://www.linkedin.com/in/example-grace-liu',
   true, false, true, ARRAY['soc 2 compliance', 'security compliance', 'compliance'], 'concierge',
   'America/Denver', 'approved', now()),
  -- members who ask rather than answer
  ('00000000-0000-4000-8000-000000000007', '+14155550106', 'leo.martins@example.com', true,
   'Leo', 'Martins', 'Tidewater Freight', 'COO', 'https://www.linkedin.com/in/example-leo-martins',
   true, false, false, ARRAY['freight operations'], 'concierge',
   'America/New_York', 'approved', now()),
  ('00000000-0000-4000-8000-000000000008', '+14155550107', 'nina.brooks@example.com', true,
   'Nina', 'Brooks', 'Copperline Software', 'VP Finance', 'https://www.linkedin.com/in/example-nina-brooks',
   true, false, false, ARRAY['financial planning'], 'concierge',
   'America/Los_Angeles', 'approved', now()),
  -- a second innovator, selling compliance automation (users row + innovators row below)
  ('00000000-0000-4000-8000-000000000009', '+14155550108', 'ravi.shah@example.com', true,
   'Ravi', 'Shah', 'Attestly', 'CEO & Co-founder', 'https://www.linkedin.com/in/example-ravi-shah',
   true, true, false, ARRAY['compliance automation'], 'innovator',
   'America/New_York', 'approved', now())
ON CONFLICT DO NOTHING;

UPDATE public.users
   SET referred_by = '00000000-0000-4000-8000-000000000001'
 WHERE id IN ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000003',
              '00000000-0000-4000-8000-000000000004')
   AND referred_by IS NULL;

INSERT INTO public.innovators (
  id, user_id, company_name, solution_description, categories, target_customer_profile, warm_intro_bounty
) VALUES (
  '00000000-0000-4000-8000-000000000104', '00000000-0000-4000-8000-000000000004', 'LedgerLoop',
  'Accounts-payable automation for mid-market finance teams: invoice capture, approvals and payments.',
  ARRAY['fintech', 'accounts payable', 'finance automation'],
  'CFOs and controllers at companies with 200-2,000 employees', 25
), (
  '00000000-0000-4000-8000-000000000109', '00000000-0000-4000-8000-000000000009', 'Attestly',
  'Compliance automation for SOC 2 and ISO 27001: evidence collection, policies and auditor hand-off.',
  ARRAY['security_compliance', 'soc 2', 'compliance automation'],
  'Startups and mid-market software companies preparing a first SOC 2 audit', 25
)
ON CONFLICT DO NOTHING;

-- Every member who reached the Concierge by text has a conversation; the demo members get theirs
-- here, so re-engagement and queued messages reach them as they would a real member.
INSERT INTO public.conversations (id, user_id, phone_number, status)
SELECT ('00000000-0000-4000-8000-0000000002' || right(u.id::text, 2))::uuid, u.id, u.phone_number, 'active'
  FROM public.users AS u
 WHERE u.id::text LIKE '00000000-0000-4000-8000-0000000000__'
   AND NOT EXISTS (SELECT 1 FROM public.conversations AS c WHERE c.user_id = u.id)
ON CONFLICT DO NOTHING;
