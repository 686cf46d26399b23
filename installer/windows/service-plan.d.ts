/** Declarations of service-plan.js for TypeScript callers (the unit tests). */
import type { InstallParams, InstallPlan, UninstallParams, UninstallPlan } from './service-plan-types';

export type * from './service-plan-types';
export class PlanError extends Error {}
export const REGISTRY_KEY: string;
export const PLUGINS_KEY: string;
export function installPlan(params: InstallParams): InstallPlan;
export function uninstallPlan(params: UninstallParams): UninstallPlan;
export function runCli(argv: readonly string[], env: NodeJS.ProcessEnv): { code: number; output: string };
