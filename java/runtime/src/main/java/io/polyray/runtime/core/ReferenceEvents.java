package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.Address;
import java.util.List;

/**
 * Where the {@link ReferenceCounter}'s events go in a {@link CoreWorker}: a freed object is
 * dropped from the lineage, the copy locations and the borrow protocol (or, for an actor
 * handle's object, the actor is destroyed); borrow changes and received lends go to the
 * {@link BorrowTracker}; the first borrowed holder starts the {@link BorrowerWatch}.
 *
 * <p>Owns nothing: it only routes. Invariants: it reads the worker's components when an event
 * comes, not when it is made (the counter is made before some of them); events come on
 * whatever thread the counter raises them, as before. Split out of CoreWorker to keep that
 * file to its wiring.
 */
final class ReferenceEvents implements ReferenceCounter.Listener {
  private final CoreWorker w;

  ReferenceEvents(CoreWorker w) {
    this.w = w;
  }

  @Override
  public void free(ByteString oid, ByteString inStoreNode) {
    if (ActorHandles.isHandleObjectId(oid)) { // the actor's last handle went
      w.handleCounting.destroyActor(ActorHandles.actorIdOf(oid));
      return;
    }
    w.lineage.onFree(oid);
    w.locations.remove(oid);
    w.borrows.onFree(oid, inStoreNode);
  }

  @Override
  public void borrowChanged(Address owner, List<ByteString> added, List<ByteString> removed) {
    w.borrows.onBorrowChanged(owner, added, removed);
  }

  @Override
  public void lentReceived(Address owner, List<ByteString> oids, ByteString lender) {
    w.borrows.onLentReceived(owner, oids, lender);
  }

  @Override
  public void firstHolder() {
    w.borrowerWatch.start();
  }
}
