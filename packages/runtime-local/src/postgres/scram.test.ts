import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scramMatches, scramVerifier } from './scram.js';

void describe('scram verifier', () => {
  void it('matches its own password only, and holds no plaintext', () => {
    const verifier = scramVerifier('correct horse battery');
    assert.match(verifier, /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    assert.equal(verifier.includes('horse'), false);
    assert.equal(scramMatches('correct horse battery', verifier), true);
    assert.equal(scramMatches('wrong', verifier), false);
    assert.equal(scramMatches('correct horse battery', 'md5abcdef'), false);
    assert.notEqual(scramVerifier('same'), scramVerifier('same'), 'salted');
  });
});
