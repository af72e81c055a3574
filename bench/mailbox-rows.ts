/**
 * Synthetic `mailbox.map` input: users as SQL would return them (`users` joined to `servers`,
 * aliases grouped) and their domains. Deterministic, generated before the timed region.
 *
 * Users are `first.lastN@domainD.example` (realistic 30–40 byte names), spread over one domain per
 * 1,000 users (at most 1,000 domains) and round-robin over `servers` home nodes; every fifth user
 * has one alias; every seventh user name is stored capitalized (`Anna.mueller7@…`). The map holds
 * per user the lower-cased name and its MailboxId, plus a second MailboxId for capitalized names
 * (computed over the stored name), one key per alias and one per domain (public store).
 */
import type { MailboxMapDomain, MailboxMapRow } from "../lib/render/haproxy";

const FIRST = ["anna", "ben", "carla", "david", "eva", "felix", "greta", "hans", "ida", "jonas", "katrin", "lukas"];
const LAST = ["mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "schulz", "hoffmann"];

export interface SyntheticMap {
  readonly rows: MailboxMapRow[];
  readonly domains: MailboxMapDomain[];
  readonly servers: string[];
}

export function syntheticMailboxMap(users: number, mailboxNodes = 10): SyntheticMap {
  const servers = Array.from({ length: mailboxNodes }, (_, i) => `mail${i + 1}.example.com`);
  const domainCount = Math.min(1000, Math.max(1, Math.ceil(users / 1000)));
  const domains: MailboxMapDomain[] = Array.from({ length: domainCount }, (_, i) => ({
    id: i + 1,
    name: `domain${i + 1}.example`,
    homeserver: servers[i % servers.length]!,
  }));
  const rows: MailboxMapRow[] = new Array<MailboxMapRow>(users);
  for (let i = 0; i < users; i++) {
    const domain = domains[i % domainCount]!.name;
    const lower = FIRST[i % FIRST.length]!;
    const first = i % 7 === 0 ? lower[0]!.toUpperCase() + lower.slice(1) : lower;
    const last = LAST[Math.floor(i / FIRST.length) % LAST.length]!;
    const username = `${first}.${last}${i}@${domain}`;
    rows[i] = {
      id: i + 1,
      username,
      homeserver: servers[i % servers.length]!,
      ...(i % 5 === 0 ? { aliases: [`${lower[0]}${last}${i}@${domain}`] } : {}),
    };
  }
  return { rows, domains, servers };
}
