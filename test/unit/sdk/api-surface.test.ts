/**
 * The published SDK surface, recorded per plugin API version. Adding,
 * removing or renaming an export of @algd/sdk or @algd/sdk/testing changes
 * what third-party plugins build against: it must come with a new
 * SDK_API_VERSION and a new entry here (semver: additions bump the minor,
 * removals and changes the major), never silently.
 */

import * as sdk from '@algd/sdk';
import * as testing from '@algd/sdk/testing';

const V010 = {
  sdk: [
    'DEFAULT_MAX_LINE_LENGTH', 'DEFAULT_MAX_MESSAGE_SIZE', 'FramingError', 'LineFramer', 'NetValueError', 'PluginDefinitionError',
    'SDK_API_VERSION', 'SipMessageFramer', 'apiVersionSatisfies', 'checkDatagram', 'checkSipDatagram', 'createStreamFramer',
    'definePlugin', 'endpoint', 'findFtpHostPort', 'formatEndpoint', 'formatEprtArgument', 'formatEpsvPort', 'formatFtpHostPort',
    'formatHost', 'formatHostPort', 'ipAddress', 'ipFamily', 'ipFromBytes', 'ipToBytes', 'isApiVersionRange', 'isPort',
    'parseEprtArgument', 'parseEpsvReply', 'parseFtpHostPort', 'parseHostPort', 'port', 'sameAddress', 'sameEndpoint',
  ],
  testing: ['InMemoryHostServices', 'PeerRecord', 'PluginTestSession', 'TEST_SESSION_DEFAULTS', 'resolveTestSession'],
};

const SURFACE: Record<string, { sdk: string[]; testing: string[] }> = {
  '0.1.0': V010,
  // Adds SessionContext.renewDataChannel (a member, not an export) and the list of implemented versions.
  '0.2.0': { sdk: [...V010.sdk, 'SDK_API_VERSIONS'].sort(), testing: V010.testing },
  // Adds DataChannelRequest.notify as a filter ({ used?, ended? }; a type, not an export).
  '0.3.0': { sdk: [...V010.sdk, 'SDK_API_VERSIONS'].sort(), testing: V010.testing },
  // Adds removeDataChannel's options ({ closeConnections }) and SessionContext.setIdleTimeout (types and members, not exports).
  '0.4.0': { sdk: [...V010.sdk, 'SDK_API_VERSIONS'].sort(), testing: V010.testing },
};

describe('the published SDK surface', () => {
  it('is the one recorded for SDK_API_VERSION', () => {
    expect(sdk.SDK_API_VERSION).toBe('0.4.0');
    const recorded = SURFACE[sdk.SDK_API_VERSION];
    expect(recorded).toBeDefined();
    expect(Object.keys(sdk).sort()).toEqual(recorded!.sdk);
    expect(Object.keys(testing).sort()).toEqual(recorded!.testing);
  });

  it('each version only adds to the one before, and the SDK implements every recorded one', () => {
    expect(sdk.SDK_API_VERSIONS).toEqual(Object.keys(SURFACE));
    expect(sdk.SDK_API_VERSIONS.at(-1)).toBe(sdk.SDK_API_VERSION);
    const versions = Object.values(SURFACE);
    for (let i = 1; i < versions.length; i++) {
      expect(versions[i]!.sdk).toEqual(expect.arrayContaining(versions[i - 1]!.sdk));
      expect(versions[i]!.testing).toEqual(expect.arrayContaining(versions[i - 1]!.testing));
    }
  });

  it('accepts plugins asking for any API version it implements and refuses later ones', () => {
    expect(sdk.apiVersionSatisfies('^0.1.0')).toBe(true);
    expect(sdk.apiVersionSatisfies('^0.2.0')).toBe(true);
    expect(sdk.apiVersionSatisfies('~0.1.0')).toBe(true);
    expect(sdk.apiVersionSatisfies('>=0.1.0 <1.0.0')).toBe(true);
    expect(sdk.apiVersionSatisfies('^0.3.0')).toBe(true);
    expect(sdk.apiVersionSatisfies('^0.4.0')).toBe(true);
    expect(sdk.apiVersionSatisfies('^0.5.0')).toBe(false);
    expect(sdk.apiVersionSatisfies('^0.4.1')).toBe(false);
    expect(sdk.apiVersionSatisfies('^1.0.0')).toBe(false);
    expect(sdk.apiVersionSatisfies('not a range')).toBe(false);
    // semver reads an empty range as "any"; a plugin must say what it needs.
    expect(sdk.apiVersionSatisfies('')).toBe(false);
  });

  it('checks one given version when asked', () => {
    expect(sdk.apiVersionSatisfies('^0.1.0', '0.1.0')).toBe(true);
    expect(sdk.apiVersionSatisfies('^0.1.0', '0.2.0')).toBe(false);
    expect(sdk.apiVersionSatisfies('^0.2.0', '0.1.0')).toBe(false);
    expect(sdk.apiVersionSatisfies('', '0.1.0')).toBe(false);
  });
});
