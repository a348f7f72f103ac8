import 'package:provider/provider.dart';
import 'package:provider/single_child_widget.dart';

import '../data/repositories/auth/auth_repository.dart';
import '../data/repositories/auth/auth_repository_firebase.dart';
import '../data/repositories/job/job_repository.dart';
import '../data/repositories/job/job_repository_remote.dart';
import '../data/services/auth_service.dart';
import '../data/services/job_document_service.dart';
import '../data/services/jobs_api_client.dart';
import '../data/services/media_picker.dart';
import '../data/services/push_service.dart';
import '../ui/auth/view_models/sign_in_view_model.dart';
import 'app_config.dart';

/// The object graph: services, then the repositories over them, then app-wide view models.
/// Tests build their own graph from the fakes in testing/fakes instead.
List<SingleChildWidget> providersFor(AppConfig config) => [
      Provider<AuthService>(create: (_) => AuthService()),
      Provider<MediaPicker>(create: (_) => DeviceMediaPicker()),
      Provider<JobDocumentService>(create: (_) => JobDocumentService()),
      Provider<JobsApiClient>(
        create: (context) {
          final auth = context.read<AuthService>();
          return JobsApiClient(backendUrl: config.backendUrl, idToken: auth.idToken);
        },
      ),
      // Push needs a configured Firebase project; with the emulators there is no FCM.
      Provider<PushService?>(
        create: (context) => config.useEmulators ? null : PushService(api: context.read<JobsApiClient>()),
      ),
      ChangeNotifierProvider<AuthRepository>(
        create: (context) => AuthRepositoryFirebase(authService: context.read<AuthService>()),
      ),
      Provider<JobRepository>(
        create: (context) => JobRepositoryRemote(
          apiClient: context.read<JobsApiClient>(),
          documents: context.read<JobDocumentService>(),
          auth: context.read<AuthRepository>(),
        ),
      ),
      ChangeNotifierProvider<SignInViewModel>(
        create: (context) => SignInViewModel(auth: context.read<AuthRepository>()),
      ),
    ];
