import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.util.List;

/**
 * Starts mongo-java-server for the gateway when no MONGODB_URI is given.
 *
 * Usage: java -cp 'lib/*:classes' EmbeddedMongo [h2-file] [port]
 *   no file: data lives in memory; a file: kept there across restarts (H2 backend).
 *   port 0 or absent: a free port.
 *
 * Prints one line "READY <host>:<port>" on stdout once it accepts connections. It stops when
 * its standard input closes (the parent went away) or on SIGTERM, committing the H2 file.
 */
public final class EmbeddedMongo {
    /** mongodb@7 requires wire version >= 9; report MongoDB 5.0 (wire version 13). */
    private static final MongoVersion VERSION = new MongoVersion() {
        @Override public List<Integer> getVersionArray() { return List.of(5, 0, 0); }
        @Override public int getWireVersion() { return 13; }
    };

    public static void main(String[] args) throws Exception {
        String file = args.length > 0 && !args[0].isEmpty() ? args[0] : null;
        int port = args.length > 1 ? Integer.parseInt(args[1]) : 0;
        MongoBackend backend = file == null ? new MemoryBackend() : new H2Backend(file);
        backend.version(VERSION);
        MongoServer server = new MongoServer(backend);
        server.enableOplog();
        server.bind("127.0.0.1", port);
        InetSocketAddress address = server.getLocalAddress();
        Runnable stop = () -> {
            server.shutdownNow();
            backend.close();
        };
        Runtime.getRuntime().addShutdownHook(new Thread(stop, "embedded-mongo-shutdown"));
        System.out.println("READY 127.0.0.1:" + address.getPort());
        System.out.flush();
        InputStream in = System.in;
        byte[] buffer = new byte[256];
        while (in.read(buffer) >= 0) {
            // Nothing is read from the parent; end of input means it has gone.
        }
        System.exit(0);
    }
}
