// Writes examples/support-tickets/{train,dev}.csv: synthetic support tickets (seeded, so the files
// are reproducible) with three labels per row: category (classification), urgency in [0, 1]
// (regression; empty in some rows: partial labels) and tags (multi-label, '|'-separated; 'none' when
// a ticket has none, since an empty cell means "not labelled").
//   npx tsx scripts/make-support-tickets.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

let state = 12345;
const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;

const CATEGORIES = {
  billing: [
    'I was charged twice for my subscription',
    'my invoice shows the wrong amount',
    'please refund the last payment',
    'the credit card payment failed',
  ],
  login: [
    'I cannot log in to my account',
    'the password reset email never arrives',
    'two-factor code is rejected',
    'my account is locked after three tries',
  ],
  hardware: [
    'the printer on floor three is jammed',
    'my laptop screen flickers',
    'the keyboard stopped working',
    'the docking station does not charge',
  ],
  network: [
    'the VPN disconnects every hour',
    'wifi in the meeting room is very slow',
    'I cannot reach the intranet',
    'the office internet is down',
  ],
  shipping: [
    'my parcel has not arrived yet',
    'the tracking number does not work',
    'the package came damaged',
    'I need to change the delivery address',
  ],
} as const;
const URGENT = ['asap', 'urgent', 'right now', 'today please', 'blocking my work'];
const CALM = ['when you have time', 'no rush', 'sometime this week', 'just letting you know'];
const ANGRY = ['this is unacceptable', 'third time I write', 'very frustrating'];

function ticket(): string[] {
  const category = pick(Object.keys(CATEGORIES)) as keyof typeof CATEGORIES;
  const urgent = random() < 0.4;
  const angry = random() < 0.3;
  const parts = [pick(CATEGORIES[category]), urgent ? pick(URGENT) : pick(CALM), ...(angry ? [pick(ANGRY)] : [])];
  let text = parts.join(', ');
  if (random() < 0.2) text += '.\nSent from my phone'; // a multi-line cell, quoted in the CSV
  const urgency = Math.min(1, Math.max(0, (urgent ? 0.75 : 0.25) + (angry ? 0.15 : 0) + (random() - 0.5) * 0.2));
  const tags = [
    ...(urgent ? ['urgent'] : []),
    ...(angry ? ['angry'] : []),
    ...(category === 'billing' && /refund|twice/.test(text) ? ['refund'] : []),
  ];
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  // One row in eight has no urgency: that task skips it, the others train on it.
  return [
    quote(text[0]!.toUpperCase() + text.slice(1)),
    category,
    random() < 0.125 ? '' : urgency.toFixed(2),
    quote(tags.length > 0 ? tags.join('|') : 'none'),
  ];
}

const dir = path.join(import.meta.dirname, '..', 'examples', 'support-tickets');
mkdirSync(dir, { recursive: true });
const header = 'text,category,urgency,tags';
for (const [file, rows] of [
  ['train.csv', 400],
  ['dev.csv', 100],
] as const) {
  writeFileSync(path.join(dir, file), [header, ...Array.from({ length: rows }, () => ticket().join(','))].join('\n') + '\n');
}
