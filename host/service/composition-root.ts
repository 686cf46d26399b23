import 'reflect-metadata';
import { container as rootContainer, instanceCachingFactory, Lifecycle, type DependencyContainer, type InjectionToken } from 'tsyringe';
import { AdminServer } from '../admin/admin-server';
import type { AlgdConfig } from '../config/config-schema';
import { createLogger, type Logger } from '../logging/logger';
import { NatEngine } from '../nat-engine/nat-engine';
import type { PacketDriver } from '../nat-engine/drivers/packet-driver';
import { DEFAULT_PLUGIN_SETTINGS, PluginHost } from '../plugin-api/plugin-host';
import { DataChannelHub } from '../plugin-api/resources/data-channel-hub';
import { resolveAdapters } from './adapters';
import { AlgdService } from './algd-service';
import { fixedConfigSource, type ConfigSource } from './config-source';
import { createDriver } from './create-driver';
import { createMetricsEndpoint } from './metrics-endpoint';
import { applyPluginFlags, noPluginFlags, type PluginFlagSource } from './plugin-flags';
import { TOKENS, type Startable } from './service-tokens';

/**
 * The composition root: the one place that decides which implementation
 * backs each part of the service. Every start gets its own child container,
 * so nothing is shared between two services in one process (tests) and no
 * part is a module-level singleton. `overrides` replace any part, e.g. a
 * fake driver or logger.
 */
export interface ServiceParts {
  readonly config: AlgdConfig;
  /** Where reloads read the configuration; default the same configuration again. */
  readonly configSource?: ConfigSource;
  readonly pluginFlags?: PluginFlagSource;
  readonly logger?: Logger;
  readonly driver?: PacketDriver;
  readonly metrics?: Startable | null;
}

/** A container holding every part of one service; nothing is built until resolved. */
export function createServiceContainer(parts: ServiceParts, parent: DependencyContainer = rootContainer): DependencyContainer {
  const c = parent.createChildContainer();
  const single = <T>(make: (c: DependencyContainer) => T) => ({ useFactory: instanceCachingFactory(make) });
  /** A given part as it is, else the default built once. */
  const provide = <T>(token: InjectionToken<T>, given: T | undefined, make: (c: DependencyContainer) => T): void => {
    if (given !== undefined) c.register(token, { useValue: given });
    else c.register(token, single(make));
  };
  c.register(TOKENS.config, { useValue: parts.config });
  c.register(TOKENS.configSource, { useValue: parts.configSource ?? fixedConfigSource(parts.config) });
  c.register(TOKENS.pluginFlags, { useValue: parts.pluginFlags ?? noPluginFlags });
  provide(TOKENS.logger, parts.logger, (r) => createLogger(r.resolve(TOKENS.config).logging));
  provide(TOKENS.driver, parts.driver, (r) => createDriver(r.resolve(TOKENS.config), r.resolve(TOKENS.logger)));
  c.register(TOKENS.hub, single(() => new DataChannelHub()));
  c.register(TOKENS.engine, single((r) => new NatEngine({ events: r.resolve(TOKENS.hub), timeouts: r.resolve(TOKENS.config).flowTimeouts })));
  c.register(TOKENS.adapters, single((r) => resolveAdapters(r.resolve(TOKENS.config).adapters)));
  c.register(
    TOKENS.pluginHost,
    single((r) => {
      const adapters = r.resolve(TOKENS.adapters);
      return new PluginHost({
        config: r.resolve(TOKENS.config),
        engine: r.resolve(TOKENS.engine),
        hub: r.resolve(TOKENS.hub),
        adapters: () => adapters,
        log: r.resolve(TOKENS.logger),
        placement: r.resolve(TOKENS.driver).listenerPlacement,
      });
    }),
  );
  c.register(TOKENS.admin, single((r) => new AdminServer(r.resolve(TOKENS.config).adminSocket)));
  provide(TOKENS.metrics, parts.metrics, (r) => createMetricsEndpoint(r.resolve(TOKENS.config), () => r.resolve(AlgdService).status(), r.resolve(TOKENS.logger)));
  // The service itself is built by tsyringe from its constructor's @inject tokens, once per container.
  c.register(AlgdService, { useClass: AlgdService }, { lifecycle: Lifecycle.ContainerScoped });
  return c;
}

/**
 * Builds a service: reads the plugin enable flags kept outside the file
 * (Windows registry) into the configuration first, so every part sees the
 * same effective configuration, then resolves the service.
 */
export async function composeService(parts: ServiceParts, parent?: DependencyContainer): Promise<{ container: DependencyContainer; service: AlgdService }> {
  const flags = await (parts.pluginFlags ?? noPluginFlags).read();
  const config = applyPluginFlags(parts.config, flags, DEFAULT_PLUGIN_SETTINGS);
  const container = createServiceContainer({ ...parts, config }, parent);
  return { container, service: container.resolve(AlgdService) };
}
