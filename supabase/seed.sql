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
   'America/Chicago', 'approved', now())
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
)
ON CONFLICT DO NOTHING;
