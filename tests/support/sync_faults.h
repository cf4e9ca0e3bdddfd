// Control of the fsync/fdatasync interposer linked into a test binary
// (sync_faults.cc). LMDB calls these through the PLT, so definitions in the
// executable take their place: a test can fail the next sync with an errno,
// or hold the writer thread inside a sync to make requests queue up behind
// it (deterministic group commit without sleeps).
#ifndef MEMOIR_TESTS_SUPPORT_SYNC_FAULTS_H_
#define MEMOIR_TESTS_SUPPORT_SYNC_FAULTS_H_

namespace memoir::test {

// The next `count` calls fail with `err` (then calls succeed again).
void FailNextSyncs(int count, int err);
// The next call blocks until ReleaseSync.
void BlockNextSync();
// Waits up to 10 s for a call to be blocked; false on timeout.
bool WaitUntilSyncBlocked();
void ReleaseSync();
// Calls made so far (failed ones included).
int SyncCalls();
// Clears every armed fault and releases a blocked call.
void ResetSyncFaults();

}  // namespace memoir::test

#endif  // MEMOIR_TESTS_SUPPORT_SYNC_FAULTS_H_
