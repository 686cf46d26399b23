import type { DirectionRewrite } from './endpoint-rewrite';
import type { Mapping } from './mapping';
import type { RedirectRule } from './redirect-rule';

/** What the engine attaches to each flow it created: why it exists and what each direction rewrites. */
export type FlowTranslation =
  | { readonly kind: 'redirect'; readonly rule: RedirectRule; readonly original: DirectionRewrite; readonly reply: DirectionRewrite; readonly lookupKey: string }
  | { readonly kind: 'mapping'; readonly mapping: Mapping; readonly original: DirectionRewrite; readonly reply: DirectionRewrite };
