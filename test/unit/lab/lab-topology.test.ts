/**
 * The lab's names and options without building anything: the second client
 * is opt-in, its namespace follows the lab's naming (so sweeps and the
 * watchdog cover it), and the default lab is what it was.
 */

import { LAB_HOSTS, labNamespaceOwner, newLabNames } from '../../../host/lab/lab-names';
import { labNatRuleset, resolveLabOptions } from '../../../host/lab/topology';

describe('lab names', () => {
  it('names exactly client, gateway and server by default', () => {
    const names = newLabNames(4242, 'rtsp');
    expect(names.id).toMatch(/^algd-4242-[0-9a-f]{4}-rtsp$/);
    expect(names.namespaces).toEqual({ client: `${names.id}-cli`, gateway: `${names.id}-gw`, server: `${names.id}-srv` });
    expect(Object.keys(names.namespaces)).toEqual(['client', 'gateway', 'server']);
  });

  it('adds client2 (`-cl2`) only when asked, with or without a label', () => {
    const labelled = newLabNames(4242, 'two', true);
    expect(labelled.namespaces.client2).toBe(`${labelled.id}-cl2`);
    const plain = newLabNames(7, undefined, true);
    expect(plain.namespaces.client2).toMatch(/^algd-7-[0-9a-f]{4}-cl2$/);
    expect(Object.keys(plain.namespaces).sort()).toEqual([...LAB_HOSTS].sort());
  });

  it('recognises every host of a lab as its owner\'s, client2 included, and nothing else', () => {
    const names = newLabNames(4242, 'two', true);
    for (const ns of Object.values(names.namespaces)) expect(labNamespaceOwner(ns)).toBe(4242);
    expect(labNamespaceOwner('algd-4242-beef-cl2')).toBe(4242);
    for (const notOurs of ['algd-4242-beef-cli2', 'algd-4242-beef-cl3', 'algd-4242-beef-cl2x', 'algd-4242-beef-CL2', 'xalgd-4242-beef-cl2']) {
      expect([notOurs, labNamespaceOwner(notOurs)]).toEqual([notOurs, undefined]);
    }
  });
});

describe('lab options', () => {
  it('leaves the second client off by default, in every variant', () => {
    expect(resolveLabOptions()).toEqual({ ipv6: true, masquerade: true, ipv6Nat: false, routing: false, name: undefined, offloads: false, secondClient: false });
    expect(resolveLabOptions({ routing: true }).secondClient).toBe(false);
    expect(resolveLabOptions({ secondClient: true })).toMatchObject({ secondClient: true, masquerade: true, routing: false });
    expect(resolveLabOptions({ secondClient: true, routing: true })).toMatchObject({ secondClient: true, masquerade: false, routing: true });
  });

  it('masquerades the second network with the same rule: one rule on the public interface, whatever the private ones', () => {
    const expected = [
      'table inet algd_lab_nat {',
      '  chain postrouting {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      '    oifname "pub0" meta nfproto ipv4 masquerade',
      '  }',
      '}',
      '',
    ].join('\n');
    expect(labNatRuleset(resolveLabOptions())).toBe(expected);
    expect(labNatRuleset(resolveLabOptions({ secondClient: true }))).toBe(expected);
    expect(labNatRuleset(resolveLabOptions({ secondClient: true, routing: true }))).toBe('');
  });
});
